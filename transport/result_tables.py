"""Columns and types of the result tables every run produces (the contract described in docs/design.md).

The province model builds these frames; runs.store adds `run_id` and stores them. Kept here, below both, so the
model and the store cannot drift apart.
"""

from __future__ import annotations

import polars as pl

_KEY = {"member": pl.Int32, "year": pl.Int32}

RESULT_COLUMNS: dict[str, dict[str, pl.DataType | type[pl.DataType]]] = {
    "fleet": {
        **_KEY,
        "segment": pl.Utf8,
        "powertrain": pl.Utf8,
        "stock": pl.Float64,
        "sales": pl.Float64,
        "retirements": pl.Float64,
    },
    "energy": {
        **_KEY,
        "segment": pl.Utf8,
        "powertrain": pl.Utf8,
        "fuel": pl.Utf8,
        "energy_pj": pl.Float64,
        "oil_mt": pl.Float64,
        "co2_ttw_mt": pl.Float64,
        "co2_wtw_mt": pl.Float64,
    },
    # road transport by prefecture city (transport.city_energy): every member's totals, and the central estimate
    # (member 0) by segment and fuel; the cities of a member, year (and segment, fuel) add up to table energy's
    "city_road": {
        **_KEY,
        "city": pl.Utf8,
        "city_code": pl.Int32,  # GB/T 2260
        "energy_pj": pl.Float64,
        "oil_mt": pl.Float64,
        "co2_ttw_mt": pl.Float64,
        "co2_wtw_mt": pl.Float64,
    },
    "city_energy": {
        **_KEY,
        "city": pl.Utf8,
        "city_code": pl.Int32,
        "segment": pl.Utf8,
        "fuel": pl.Utf8,
        "energy_pj": pl.Float64,
        "oil_mt": pl.Float64,
        "co2_ttw_mt": pl.Float64,
        "co2_wtw_mt": pl.Float64,
    },
    "freight": {**_KEY, "mode": pl.Utf8, "commodity": pl.Utf8, "tonnes_mt": pl.Float64, "tkm_bn": pl.Float64},
    "railsea": {**_KEY, "port": pl.Utf8, "teu": pl.Float64},
    # every capacity element of the freight network (locks, canal, rail lines, rail-sea yards, sea and river ports, the
    # rail-sea container services): tonnes and containers through it, and its capacity that year
    "capacity_flows": {
        **_KEY,
        "element": pl.Utf8,
        "kind": pl.Utf8,
        "tonnes_mt": pl.Float64,
        "teu": pl.Float64,
        "capacity_mt": pl.Float64,
    },
    # assigned freight on each link of the network (both directions summed), for the first LINK_FLOW_MEMBERS members
    # only (member 0, the central estimate: an ensemble does not store members x links x years rows unless asked,
    # transport run --link-flows all; quantiles over the members: link_flow_quantiles); tkm on the freight table's
    # convention (rail: km inside Guangxi), teu: containers only
    "link_flows": {**_KEY, "link_id": pl.Utf8, "tonnes_mt": pl.Float64, "tkm_bn": pl.Float64, "teu": pl.Float64},
    "urban": {**_KEY, "city": pl.Utf8, "mode": pl.Utf8, "trips_m": pl.Float64, "share": pl.Float64},
    "targets": {
        "member": pl.Int32,
        "target": pl.Utf8,
        "year": pl.Int32,
        "value": pl.Float64,
        "threshold": pl.Float64,
        "met": pl.Boolean,
        "margin": pl.Float64,
        "unit": pl.Utf8,
        "detail": pl.Utf8,
    },
    "lmdi": {"member": pl.Int32, "period": pl.Utf8, "segment": pl.Utf8, "effect": pl.Utf8, "oil_mt": pl.Float64},
    # Series that statistics publish but the domain tables do not hold directly (port throughput, city bus fleets)
    "indicators": {**_KEY, "indicator": pl.Utf8, "value": pl.Float64, "unit": pl.Utf8},
}

# Run-level tables (not per member): the run's network and its analyses, written beside the member tables of the
# run that produced them.
ANALYSIS_COLUMNS: dict[str, dict[str, pl.DataType | type[pl.DataType]]] = {
    # every link of the run's freight network, links opening later included (transport.freight.network.run_links)
    "links": {
        "link_id": pl.Utf8,  # stable: the dataset's trunk_ways.csv link_id, new_links[i] for a scenario's new link
        "mode": pl.Utf8,
        "name": pl.Utf8,
        "from_place": pl.Utf8,
        "to_place": pl.Utf8,
        "length_km": pl.Float64,
        "inside_km": pl.Float64,  # km inside Guangxi
        "open_year": pl.Int32,
        "geometry": pl.Utf8,  # WKT LINESTRING, EPSG:4326 (lon lat)
    },
    # quantiles of the link flows over all members of an exact-freight ensemble (members > 1; none for one member or
    # emulated freight), each quantity and year on its own (transport.freight.model.LINK_FLOW_QUANTILES)
    "link_flow_quantiles": {
        "year": pl.Int32,
        "link_id": pl.Utf8,
        "quantile": pl.Float64,  # 0.05, 0.5, 0.95
        "tonnes_mt": pl.Float64,
        "tkm_bn": pl.Float64,
        "teu": pl.Float64,
    },
    # transport validate-history: every published fact the model can be set against
    "hindcast": {
        "series": pl.Utf8,
        "year": pl.Int32,
        "published": pl.Float64,
        "modelled": pl.Float64,
        "error": pl.Float64,  # modelled / published - 1
        "in_sample": pl.Boolean,  # used to fit a parameter (base year and earlier only)
        "tolerance": pl.Float64,  # allowed |error| out of sample; null = indicative only (definitions differ)
        "within": pl.Boolean,
        "unit": pl.Utf8,
        "definition_note": pl.Utf8,
        "source_url": pl.Utf8,
    },
    # convergence and fit of the run: MSA gap per year, calibration residuals (base year), against their tolerances
    "diagnostics": {
        "year": pl.Int32,
        "kind": pl.Utf8,  # msa_gap | calibration_residual
        "name": pl.Utf8,
        "value": pl.Float64,
        "tolerance": pl.Float64,
        "within": pl.Boolean,
    },
    # global sensitivity of each target's value to the sampled parameters (ensembles with --members > 1)
    "sensitivity": {
        "target": pl.Utf8,
        "year": pl.Int32,
        "parameter": pl.Utf8,
        "method": pl.Utf8,
        "index": pl.Utf8,
        "value": pl.Float64,
        "conf": pl.Float64,
    },
    # scenario discovery (ensembles of >= 101 members): PRIM's boxes of uncertain parameters in which a target is
    # missed (transport.analysis.discovery); one row per restricted parameter, the box's coverage and density repeated
    "discovery": {
        "target": pl.Utf8,
        "box": pl.Int32,  # 1 = the first box peeled
        "parameter": pl.Utf8,
        "low": pl.Float64,  # in the parameter's unit; null: the box does not restrict that side
        "high": pl.Float64,
        "coverage": pl.Float64,  # share of the target's missed members in the box
        "density": pl.Float64,  # share of the box's members that miss the target
    },
    # ensembles whose freight was emulated (runs with freight_method = emulated): the emulator's error on held-out
    # exact runs, per headline quantity (transport.freight_emulator)
    "freight_emulator": {
        "quantity": pl.Utf8,
        "unit": pl.Utf8,
        "max_rel_error": pl.Float64,
        "rms_rel_error": pl.Float64,
        "design_points": pl.Int32,
        "validation_points": pl.Int32,
        "parameters": pl.Utf8,
    },
    # transport seek: lever settings that meet the targets, and the smallest single-lever change per target
    "seek": {
        "kind": pl.Utf8,  # single_lever | package | combined; with --robust: robust | robust_package | robust_combined
        "target": pl.Utf8,
        "lever": pl.Utf8,
        "base_value": pl.Float64,
        "value": pl.Float64,
        "reachable": pl.Boolean,
        "objective": pl.Float64,
        "detail": pl.Utf8,
        "probability": pl.Float64,  # robust rows: share of the members meeting the target at `value` (else null)
        "probability_asked": pl.Float64,  # robust rows: the --robust P asked (else null)
    },
}
