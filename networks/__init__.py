"""Freight network engine: multimodal graph, least-cost paths per mode chain, logit split, capacity by MSA.

Pure: node/link tables (polars), OSM XML files and numpy arrays in; graphs, costs and flows out. Knows nothing about
scenarios, datasets or the results store.

Public API:
- `networks.osm.load_osm_layers(path) -> (nodes, links)`, `networks.osm.snap_points`, `networks.osm.write_osm_xml`
- `networks.graph.build_multimodal_graph(nodes, links, transfers, zones, year) -> MultimodalGraph`,
  `networks.graph.chain_paths(graph, chain, element_cost) -> ChainPaths`, `ChainSpec`, `DEFAULT_CHAINS`, `ATTRS`
- `networks.paths.many_source_costs(edge_graph(...), sources)` (scipy.sparse.csgraph), `networks.paths.path_edges`
- `networks.choice.logit_split(utility)`, `networks.choice.logsum(utility)`
- `networks.assign.msa_assign(load, capacity, scale)`, `networks.assign.congestion_penalty`
"""
