"""Checks of a run's arguments against the machine and the services it needs, before any work or allocation:
memory for the ensemble, disk for its results, the output folders, the Dask scheduler.

The memory and disk figures are estimates from measured runs of the shipped dataset (baseline 2020-2060, numbers
below); they scale with members x years x fleet segments, which is how the model's arrays grow, and are meant to
refuse what cannot fit (a billion members), not to squeeze the last gigabyte.
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path
from urllib.parse import urlsplit

import psutil

from fleets import SEGMENTS
from transport.errors import RunError

GIB = 1024**3
# Measured (2 cores, shipped dataset, 2020-2060, 10 fleet segments): 1 member peaks at 0.98 GB resident, 201 members
# in one chunk with exact freight at 1.37 GB, i.e. ~47 kB per member-year held by a chunk.
BASE_BYTES = 1.0 * GIB  # interpreter, libraries, dataset, graphs: the parent and each worker process
CHUNK_BYTES_PER_SEGMENT_MEMBER_YEAR = 4_800.0
# Kept for the whole ensemble in the parent: 27 target rows and ~24 sampled parameters per member (with copies).
ENSEMBLE_BYTES_PER_MEMBER = 6_000.0
# Exact freight is computed for all members at once; about half of a chunk's bytes per member-year are freight's.
EXACT_FREIGHT_BYTES_PER_MEMBER_YEAR = 24_000.0
# Parquet on disk: 1 member 2020-2060 wrote 0.21 MB, 201 members 32.7 MB (~4 kB per member-year); with the city
# tables (city_road, every member) 200 exact members wrote 46 MB (5.6 kB per member-year).
DISK_BYTES_PER_MEMBER_YEAR = 6_000.0
# --link-flows all: 200 members 2020-2060 wrote 12.5 MB of link_flows (68 links): 1.5 kB per member-year
LINK_FLOW_BYTES_PER_MEMBER_YEAR = 1_500.0
DISK_BYTES_PER_RUN = 1_000_000.0
REPORT_BYTES = 30_000_000.0  # charts (SVG, PNG) and the HTML report
SCHEDULER_TIMEOUT_S = 3.0


def estimate_memory_bytes(members: int, years: int, chunk_size: int, workers: int, exact_freight: bool) -> float:
    """Peak resident bytes of a run of `members` over `years` (all processes together)."""
    chunk = min(members, chunk_size)
    per_chunk = chunk * years * len(SEGMENTS) * CHUNK_BYTES_PER_SEGMENT_MEMBER_YEAR
    processes = max(1, workers)
    total = BASE_BYTES + (BASE_BYTES if workers else 0.0) * workers + processes * per_chunk
    total += members * ENSEMBLE_BYTES_PER_MEMBER
    if exact_freight:
        total += members * years * EXACT_FREIGHT_BYTES_PER_MEMBER_YEAR
    return total


def available_memory_bytes() -> float:
    """Memory the system can give without swapping (MemAvailable on Linux)."""
    return float(psutil.virtual_memory().available)


def check_memory(members: int, years: int, chunk_size: int, workers: int, exact_freight: bool) -> None:
    """Raise RunError (naming the largest member count that fits) if the run would not fit in available memory."""
    need = estimate_memory_bytes(members, years, chunk_size, workers, exact_freight)
    have = available_memory_bytes()
    if need <= have:
        return
    low, high = 0, members  # largest member count that fits: the estimate grows with members
    while low < high:
        mid = (low + high + 1) // 2
        if estimate_memory_bytes(mid, years, chunk_size, workers, exact_freight) <= have:
            low = mid
        else:
            high = mid - 1
    hint = f"at most {low} members" if low >= 1 else "fewer --workers or a smaller --chunk-size"
    raise RunError(
        "--members",
        "members",
        members,
        f"a run that fits in memory: {members} members over {years} years need about {need / GIB:.1f} GiB, "
        f"{have / GIB:.1f} GiB are available; {hint} with these settings",
    )


def _nearest_existing(folder: Path) -> Path:
    probe = folder
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    return probe


def check_disk(folder: Path, need_bytes: float, what: str) -> None:
    """Raise RunError if the file system holding `folder` (or its nearest existing ancestor) has less free space."""
    free = shutil.disk_usage(_nearest_existing(folder)).free
    if free < need_bytes:
        raise RunError(
            folder,
            what,
            f"{free / 1e6:.0f} MB free",
            f"at least {need_bytes / 1e6:.0f} MB free for this run's results; free space or choose another folder",
        )


def results_bytes(members: int, years: int, every_link_flow: bool = False) -> float:
    """Estimated size of one run's Parquet files (`every_link_flow`: --link-flows all)."""
    per_member_year = DISK_BYTES_PER_MEMBER_YEAR + (LINK_FLOW_BYTES_PER_MEMBER_YEAR if every_link_flow else 0.0)
    return DISK_BYTES_PER_RUN + members * years * per_member_year


def check_scheduler(address: str) -> None:
    """The address parses as [tcp://|tls://]host:port and a server answers there within SCHEDULER_TIMEOUT_S; and
    the Dask client is installed."""
    text = address.strip()
    parts = urlsplit(text if "://" in text else f"tcp://{text}")
    expected = "a Dask scheduler address tcp://host:port"
    try:
        port = parts.port
    except ValueError:
        raise RunError("--scheduler", "address", address, f"{expected} (port 1-65535)") from None
    if parts.scheme not in {"tcp", "tls"} or not parts.hostname or port is None or port == 0 or parts.path not in "/":
        raise RunError("--scheduler", "address", address, expected)
    try:
        with socket.create_connection((parts.hostname, port), timeout=SCHEDULER_TIMEOUT_S):
            pass
    except OSError as exc:
        reason = "no answer" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise RunError(
            "--scheduler",
            "address",
            address,
            f"a running Dask scheduler ({reason} within {SCHEDULER_TIMEOUT_S:g} s); start it or fix the address",
        ) from None
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise RunError(
            "--scheduler", "address", address, "the Dask client installed: pip install -e '.[dask]'"
        ) from None
