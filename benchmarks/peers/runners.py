"""How each runtime's row is called: one batch-1 input in, the first output out."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from peers.settings import THREADS


@dataclass
class Row:
    """One way of running the model: `call(prepared)` runs one batch; `prepare(arrays)` turns
    batch-1 input arrays (problem order) into what `call` takes, outside the timed region."""

    name: str
    recipe: str
    prepare: Callable | None = None
    call: Callable | None = None
    output: Callable | None = None  # result of call -> first output as float32 ndarray
    info: dict = field(default_factory=dict)
    error: str | None = None
    build_s: float = 0.0
    metrics: dict = field(default_factory=dict)
    meets: bool | None = None
    timing: dict = field(default_factory=dict)
    peer: bool = True

    def run(self, arrays: list[np.ndarray]) -> np.ndarray:
        return self.output(self.call(self.prepare(arrays)))


def size_of(*paths) -> int:
    return int(sum(Path(p).stat().st_size for p in paths if p and Path(p).exists()))


def torch_row(row: Row, module) -> Row:
    import torch

    torch.set_num_threads(THREADS)

    def call(tensors):
        with torch.inference_mode():
            return module(*tensors)

    row.prepare = lambda arrays: [torch.from_numpy(a) for a in arrays]
    row.call = call
    row.output = lambda out: out.numpy().astype(np.float32)
    row.info.update(runtime="torch", version=torch.__version__, precision="fp32")
    return row


def ort_row(row: Row, path: Path, sess=None) -> Row:
    """ONNX Runtime, 2 threads, spinning off; `sess`: an InferenceSession opened elsewhere."""
    import onnxruntime as ort

    if sess is None:
        so = ort.SessionOptions()
        so.intra_op_num_threads = THREADS
        so.inter_op_num_threads = 1
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        row.info.update(graph_optimization="ORT_ENABLE_ALL (default)", thread_spinning=False)
    names = [i.name for i in sess.get_inputs()]
    row.prepare = lambda arrays: dict(zip(names, arrays))
    row.call = lambda feed: sess.run(None, feed)
    row.output = lambda out: np.asarray(out[0], np.float32)
    row.info.update(
        runtime="onnxruntime", version=ort.__version__, file=str(path), size_bytes=size_of(path)
    )
    return row


def ov_row(row: Row, model, path: Path | None = None, compiled=None) -> Row:
    """OpenVINO: `model` compiled with 2 threads and no hints, or an already `compiled` one."""
    import openvino as ov

    if compiled is None:
        compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_NUM_THREADS": THREADS})
    req = compiled.create_infer_request()
    row.prepare = lambda arrays: list(arrays)
    row.call = lambda arrays: req.infer(arrays)
    row.output = lambda out: np.asarray(out[compiled.output(0)], np.float32)
    prec = compiled.get_property("INFERENCE_PRECISION_HINT")
    row.info.update(
        runtime="openvino",
        version=ov.__version__,
        precision=prec.to_string() if hasattr(prec, "to_string") else str(prec),
        performance_hint=str(compiled.get_property("PERFORMANCE_HINT")),
        threads=int(compiled.get_property("INFERENCE_NUM_THREADS")),
        file=str(path) if path else None,
        size_bytes=size_of(path, path.with_suffix(".bin")) if path else None,
    )
    return row


def litert_row(row: Row, path: Path, it=None) -> Row:
    """LiteRT with XNNPACK (its default), 2 threads; `it`: an Interpreter opened elsewhere. An
    int8 input is quantized before the timed call and an int8 output dequantized after it (in
    C they cost next to nothing; in numpy they would dwarf a 30 us model): the runtime's own
    set_tensor/invoke/get_tensor are timed, for every row alike."""
    from importlib import metadata

    from ai_edge_litert.interpreter import Interpreter

    if it is None:
        it = Interpreter(model_path=str(path), num_threads=THREADS)
        it.allocate_tensors()
    runner = it.get_signature_runner()
    rin, rout = runner.get_input_details(), runner.get_output_details()
    by_index = {d["index"]: d for d in it.get_input_details()}
    ins = [by_index.get(rin[k]["index"], rin[k]) for k in sorted(rin, key=natural)]
    out = rout[sorted(rout, key=natural)[0]]

    def call(feeds):
        for index, a in feeds:
            it.set_tensor(index, a)
        it.invoke()
        return it.get_tensor(out["index"])

    row.prepare = lambda arrays: [(d["index"], _q(a, d)) for d, a in zip(ins, arrays)]
    row.call = call
    row.output = lambda o: _dq(o, out)
    row.info.update(
        runtime="litert",
        version=metadata.version("ai-edge-litert"),
        delegate="XNNPACK (default)",
        file=str(path),
        size_bytes=size_of(path),
        io_dtypes=[np.dtype(d["dtype"]).name for d in [*ins, out]],
    )
    return row


def natural(s: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


def _q(a: np.ndarray, d: dict) -> np.ndarray:
    scale, zero = d.get("quantization", (0.0, 0))
    dt = np.dtype(d["dtype"])
    if scale and np.issubdtype(dt, np.integer) and np.issubdtype(a.dtype, np.floating):
        info = np.iinfo(dt)
        return np.clip(np.round(a / scale + zero), info.min, info.max).astype(dt)
    return np.ascontiguousarray(a.astype(dt, copy=False))


def _dq(a: np.ndarray, d: dict) -> np.ndarray:
    scale, zero = d.get("quantization", (0.0, 0))
    if scale and np.issubdtype(a.dtype, np.integer):
        return (a.astype(np.float32) - zero) * scale
    return np.array(a, np.float32)


def first_line(e: BaseException, n: int = 240) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {(text[0] if text else '')[:n]}"
