"""A dataset folder: its manifest (dataset.toml), the tables of each domain, and a content hash for provenance."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from transport.cities import Prefectures, load_prefectures
from transport.errors import DatasetError
from transport.tables import read_toml

if TYPE_CHECKING:
    from transport.freight import FreightData
    from transport.urban import UrbanData
    from transport.vehicles import FleetData


@dataclass(frozen=True)
class Manifest:
    """What dataset.toml says: name, version, the base year and the last year the tables cover."""

    name: str
    version: str
    base_year: int
    last_year: int
    description: str


@dataclass(frozen=True)
class Dataset:
    """All tables of a dataset, loaded and checked."""

    folder: Path
    manifest: Manifest
    fleets: FleetData
    freight: FreightData
    urban: UrbanData
    prefectures: Prefectures
    hash: str


def read_manifest(folder: Path) -> Manifest:
    """Read and check dataset.toml of a dataset folder."""
    if not folder.is_dir():
        raise DatasetError(folder, "folder", str(folder), "a dataset folder containing dataset.toml")
    path = folder / "dataset.toml"
    raw = read_toml(path)
    fields = {"name": str, "version": str, "base_year": int, "last_year": int, "description": str}
    for key, kind in fields.items():
        if key not in raw:
            raise DatasetError(path, key, "missing", f"a {kind.__name__} value")
        if not isinstance(raw[key], kind):
            raise DatasetError(path, key, raw[key], f"a {kind.__name__} value")
    if raw["last_year"] <= raw["base_year"]:
        raise DatasetError(path, "last_year", raw["last_year"], f"a year after base_year {raw['base_year']}")
    return Manifest(**{k: raw[k] for k in fields})


def dataset_hash(folder: Path) -> str:
    """sha256 over every file of the dataset (relative path + bytes), so a run names exactly what it read."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def load_dataset(folder: Path, *, calibrate: bool = True) -> Dataset:
    """Load and check every table of the dataset in `folder`; the first problem raises a DatasetError.

    calibrate: run the freight model's base-year calibration (seconds); `validate` checks tables without it."""
    from transport.freight import calibrate_freight, load_freight_data
    from transport.urban import load_urban_data
    from transport.vehicles import load_fleet_data

    manifest = read_manifest(folder)
    prefectures = load_prefectures(folder)
    freight = load_freight_data(folder)
    if calibrate:
        calibrate_freight(freight)
    return Dataset(
        folder=folder,
        manifest=manifest,
        fleets=load_fleet_data(folder),
        freight=freight,
        urban=load_urban_data(folder),
        prefectures=prefectures,
        hash=dataset_hash(folder),
    )
