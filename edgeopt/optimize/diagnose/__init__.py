"""Per-layer comparison of a float model and its quantized child on real samples.

Both models are run with their intermediate tensors exposed as outputs; tensors are matched
by name (ONNX tensor names, OpenVINO op names survive quantization). For each layer we report
the signal-to-quantization-noise ratio (SQNR), cosine similarity and max error, plus the noise
the layer *adds* (SQNR of its input minus SQNR of its output), which is what ranks the
layers worth keeping in float: errors accumulate downstream, so the raw SQNR alone would
always blame the last layers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from edgeopt.core.plugins import load
from edgeopt.errors import UsageError
from edgeopt.formats import format_of, get_format

MAX_DB = 99.0


@dataclass
class LayerStat:
    layer: str  # node name (ONNX) or op friendly name (OpenVINO): what --exclude takes
    op_type: str
    tensor: str
    sqnr_db: float
    cosine: float
    max_abs_err: float
    added_db: float = -MAX_DB  # noise this layer adds, relative to its signal (dB; higher=worse)
    quantizable: bool = False


@dataclass
class Graph:
    """A format-neutral view: node name -> (op type, input keys, output keys)."""

    nodes: dict[str, tuple[str, list[str], list[str]]] = field(default_factory=dict)

    def producer(self) -> dict[str, str]:
        return {o: n for n, (_, _, outs) in self.nodes.items() for o in outs}


class DiagnoseBackend(Protocol):
    """Runs a float model and its quantized child with intermediate tensors exposed."""

    # element-wise ops a quantizer may fuse into the layer before them (Conv+Relu)
    fusable_ops: frozenset[str]

    def tensors(
        self, float_path: Path, quant_path: Path, arrays: list[np.ndarray], quantizable: frozenset
    ) -> tuple[Graph, dict[str, np.ndarray], dict[str, np.ndarray]]:
        """(graph of the float model, float tensors, quantized tensors), keyed alike."""


def sqnr_db(ref: np.ndarray, got: np.ndarray) -> float:
    ref = np.asarray(ref, np.float64).ravel()
    noise = float(np.sum((ref - np.asarray(got, np.float64).ravel()) ** 2))
    signal = float(np.sum(ref**2))
    if noise <= signal * 10 ** (-MAX_DB / 10):
        return MAX_DB
    return float(10 * np.log10(max(signal, 1e-30) / noise))


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    den = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / den) if den > 0 else 1.0


def diagnose(
    float_path: Path, quant_path: Path, arrays: list[np.ndarray], quantizable: frozenset[str]
) -> list[LayerStat]:
    """Layer statistics, worst SQNR first, for two models of the same format.

    `quantizable`: the op types whose weights the quantizer acts on (the quantize backend's
    tables), which `--exclude` can keep in float.
    """
    fmt = format_of(float_path)
    if fmt != format_of(quant_path):
        raise UsageError(
            f"{float_path.name} and {quant_path.name} are different formats",
            "compare a float model with its own quantized child",
        )
    backend: DiagnoseBackend = load(get_format(fmt or "unknown", "diagnoser").diagnoser)
    graph, ref, got = backend.tensors(float_path, quant_path, arrays, quantizable)
    stats = _layer_stats(graph, ref, got, quantizable, backend.fusable_ops)
    return sorted(stats, key=lambda s: s.sqnr_db)


def _layer_stats(
    graph: Graph, ref: dict, got: dict, quantizable: frozenset[str], fusable: frozenset[str]
) -> list[LayerStat]:
    sq = {k: sqnr_db(ref[k], got[k]) for k in ref if k in got and ref[k].shape == got[k].shape}
    producer = graph.producer()
    memo: dict[str, float] = {}

    def input_db(key: str, depth: int = 0) -> float:
        """SQNR of a tensor, or of the nearest compared tensors upstream of it."""
        if key in sq:
            return sq[key]
        if key in memo:
            return memo[key]
        node = producer.get(key)
        memo[key] = MAX_DB
        if node is not None and depth < 50:
            ins = [input_db(i, depth + 1) for i in graph.nodes[node][1]]
            memo[key] = min(ins) if ins else MAX_DB
        return memo[key]

    consumers: dict[str, list[str]] = {}
    for n, (_, ins, _) in graph.nodes.items():
        for i in ins:
            consumers.setdefault(i, []).append(n)
    out = []
    for name, (op, ins, outs) in graph.nodes.items():
        key = next((o for o in outs if o in sq), None)
        is_q = op in quantizable
        if key is None and is_q and outs:  # output fused away (Conv+Relu): follow the chain
            key = _follow_fused(outs[0], graph, consumers, sq, fusable)
        if key is None:
            continue
        in_db = min((input_db(i) for i in ins), default=MAX_DB)
        added = 10 ** (-sq[key] / 10) - 10 ** (-in_db / 10)
        out.append(
            LayerStat(
                name,
                op,
                key,
                sq[key],
                _cos(ref[key], got[key]),
                float(np.max(np.abs(ref[key].astype(np.float64) - got[key]))),
                float(10 * np.log10(max(added, 10 ** (-MAX_DB / 10)))),
                is_q,
            )
        )
    return out


def _follow_fused(key: str, graph: Graph, consumers: dict, sq: dict, fusable) -> str | None:
    for _ in range(3):
        nxt = consumers.get(key, [])
        if len(nxt) != 1 or graph.nodes[nxt[0]][0] not in fusable:
            return None
        key = graph.nodes[nxt[0]][2][0]
        if key in sq:
            return key
    return None


def suggest_exclusions(
    stats: list[LayerStat], limit: int = 5, min_added_db: float = -20.0
) -> list[str]:
    """Quantizable layers that add the most noise: candidates to keep in float."""
    return [s.layer for s in rank_layers(stats) if s.added_db >= min_added_db][:limit]


def rank_layers(stats: list[LayerStat]) -> list[LayerStat]:
    """Quantizable layers, the ones adding the most quantization noise first."""
    return sorted((s for s in stats if s.quantizable), key=lambda s: (-s.added_db, s.sqnr_db))


def stats_to_json(stats: list[LayerStat]) -> list[dict]:
    return [asdict(s) for s in stats]
