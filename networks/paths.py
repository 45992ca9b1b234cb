"""Many-source least-cost paths on a directed graph given as edge arrays (scipy.sparse.csgraph behind one function).

`many_source_costs` runs Dijkstra from many sources at once in compiled code; `path_edges` recovers, for every
(source, target) pair at once, the edges of the least-cost path from the predecessor matrix, walking all paths back one
hop per vectorised step (the number of steps is the longest path's hop count, not the number of paths).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_array
from scipy.sparse.csgraph import dijkstra


@dataclass(frozen=True)
class EdgeGraph:
    """A directed graph as edge arrays, with parallel edges reduced to the cheapest one (csgraph would add them)."""

    n_nodes: int
    src: np.ndarray  # (E,) int64
    dst: np.ndarray  # (E,) int64
    edge_id: np.ndarray  # (E,) index into the caller's edge list of the kept edge
    matrix: csr_array
    keys: np.ndarray  # sorted src * n_nodes + dst, for edge look-up
    key_edge: np.ndarray  # position in src/dst of each sorted key


def edge_graph(n_nodes: int, src: np.ndarray, dst: np.ndarray, weight: np.ndarray) -> EdgeGraph:
    """Build the CSR graph of finite-weight edges; of parallel edges keep the cheapest. Weights must be >= 0."""
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    weight = np.asarray(weight, dtype=float)
    if np.any(weight < 0):
        raise ValueError("edge weights must be non-negative for Dijkstra")
    ids = np.flatnonzero(np.isfinite(weight) & (src != dst))
    key = src[ids] * n_nodes + dst[ids]
    order = np.lexsort((weight[ids], key))  # by key, then cheapest first
    key, ids = key[order], ids[order]
    first = np.ones(len(key), dtype=bool)
    first[1:] = key[1:] != key[:-1]
    key, ids = key[first], ids[first]
    s, d = key // n_nodes, key % n_nodes
    # csgraph treats an explicit 0 as "no edge" in some paths; a tiny floor keeps zero-cost connectors as edges.
    w = np.maximum(weight[ids], 1e-12)
    matrix = csr_array((w, (s, d)), shape=(n_nodes, n_nodes))
    return EdgeGraph(n_nodes, s, d, ids, matrix, key, np.arange(len(key)))


@dataclass(frozen=True)
class EdgeOrder:
    """What `edge_graph` computes from the edges alone, for edges routed at many weight vectors (`reweighted`)."""

    n_nodes: int
    src: np.ndarray  # (E,) int64, as given
    dst: np.ndarray
    ids: np.ndarray  # edges other than self-loops, by key (src * n_nodes + dst), in their given order within a key
    key: np.ndarray  # their keys
    unique: bool  # no two edges join the same nodes (else `reweighted` picks the cheapest as edge_graph does)


def edge_order(n_nodes: int, src: np.ndarray, dst: np.ndarray) -> EdgeOrder:
    """The weight-independent part of `edge_graph(n_nodes, src, dst, weight)`."""
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    ids = np.flatnonzero(src != dst)
    key = src[ids] * n_nodes + dst[ids]
    order = np.argsort(key, kind="stable")
    key = key[order]
    return EdgeOrder(n_nodes, src, dst, ids[order], key, bool(np.all(key[1:] != key[:-1])))


def reweighted(order: EdgeOrder, weight: np.ndarray) -> EdgeGraph:
    """`edge_graph(order.n_nodes, order.src, order.dst, weight)`, the same arrays, without sorting the edges again."""
    if not order.unique:
        return edge_graph(order.n_nodes, order.src, order.dst, weight)
    weight = np.asarray(weight, dtype=float)
    if np.any(weight < 0):
        raise ValueError("edge weights must be non-negative for Dijkstra")
    finite = np.isfinite(weight[order.ids])
    ids, key = order.ids[finite], order.key[finite]
    n_nodes = order.n_nodes
    s, d = key // n_nodes, key % n_nodes
    w = np.maximum(weight[ids], 1e-12)
    matrix = csr_array((w, (s, d)), shape=(n_nodes, n_nodes))
    return EdgeGraph(n_nodes, s, d, ids, matrix, key, np.arange(len(key)))


def many_source_costs(
    graph: EdgeGraph, sources: np.ndarray, *, predecessors: bool = False, limit: float = np.inf
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Least-cost distances (len(sources), n_nodes) from each source; inf where unreachable.

    With predecessors=True also returns the predecessor matrix (-9999 where none), for `path_edges`.
    """
    sources = np.asarray(sources, dtype=np.int64)
    if predecessors:
        dist, pred = dijkstra(graph.matrix, directed=True, indices=sources, return_predecessors=True, limit=limit)
        return dist, pred
    return dijkstra(graph.matrix, directed=True, indices=sources, limit=limit)


def path_edges(
    graph: EdgeGraph, pred: np.ndarray, sources: np.ndarray, targets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Edges of every least-cost path source[i] -> targets[j] as COO pairs (path index, caller edge id).

    Path index = i * len(targets) + j. Unreachable pairs and source == target give no edges.
    """
    sources = np.asarray(sources, dtype=np.int64)
    targets = np.asarray(targets, dtype=np.int64)
    n_s, n_t = len(sources), len(targets)
    row = np.repeat(np.arange(n_s), n_t)
    cur = np.tile(targets, n_s)
    path = np.arange(n_s * n_t)
    paths_out: list[np.ndarray] = []
    edges_out: list[np.ndarray] = []
    active = pred[row, cur] >= 0
    row, cur, path = row[active], cur[active], path[active]
    for _ in range(graph.n_nodes):
        if len(cur) == 0:
            break
        prev = pred[row, cur]
        key = prev * graph.n_nodes + cur
        pos = np.searchsorted(graph.keys, key)
        paths_out.append(path)
        edges_out.append(graph.edge_id[graph.key_edge[pos]])
        keep = prev != sources[row]
        row, cur, path = row[keep], prev[keep], path[keep]
    if not paths_out:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(paths_out), np.concatenate(edges_out)
