"""One prepared GPU check for a lent NVIDIA machine (H100/H200): fp16 gpu artifact vs CPU fp32.

On a bare machine, from the repository root:
    bash benchmarks/gpu_check.sh            # installs deps from wheels, then runs this file
Writes $OUT/gpu_check.json (or ./edgeopt-out/gpu_check.json): for digits-cnn, export ONNX,
`compile --target gpu`, run with the CUDA EP (and TensorRT EP when present), compare outputs
to the CPU fp32 run, and time GPU vs CPU at batch 1 and 256, interleaved.
"""

from __future__ import annotations

import json
import os
import time
import traceback
from pathlib import Path

import numpy as np


def timer(fn, x, iters=200, rounds=5):
    for _ in range(20):
        fn(x)
    out = []
    for _ in range(rounds):
        for _ in range(iters):
            t = time.perf_counter()
            fn(x)
            out.append((time.perf_counter() - t) * 1000)
    return {"median_ms": float(np.median(out)), "p90_ms": float(np.percentile(out, 90))}


def main() -> None:
    import onnxruntime as ort

    if hasattr(ort, "preload_dlls"):  # CUDA/cuDNN from the nvidia-* wheels
        ort.preload_dlls()
    from edgeopt.data import fit_inputs, load_dataset
    from edgeopt.models.source import load_source
    from edgeopt.optimize.export import ExportConfig, export_model
    from edgeopt.targets.base import CompileOptions
    from edgeopt.targets.registry import get_target

    out_dir = Path(os.environ.get("OUT") or "edgeopt-out")
    out_dir.mkdir(parents=True, exist_ok=True)
    import tempfile

    work = Path(tempfile.mkdtemp(prefix="edgeopt-gpu-"))  # keep $OUT to the one JSON file
    res: dict = {
        "onnxruntime": ort.__version__,
        "providers": ort.get_available_providers(),
        "gpu_target_availability": get_target("gpu").availability(),
    }
    src = load_source("builtin:digits-cnn")
    onnx = work / "digits-cnn.onnx"
    export_model(src, ExportConfig(to="onnx", output=onnx, force=True))
    [gpu] = get_target("gpu").compile(onnx, CompileOptions(force=True))
    res["artifact"] = {"path": gpu.path.name, "bytes": gpu.size_bytes, "cpu_parity": gpu.parity}
    ds = load_dataset("sklearn:digits", "eval")
    x_all = fit_inputs(ds, src.inputs)[0]
    cpu = ort.InferenceSession(str(onnx), providers=["CPUExecutionProvider"])
    name = cpu.get_inputs()[0].name
    ref = cpu.run(None, {name: x_all})[0]
    configs = {"cuda": gpu.extra["onnxruntime"]["providers"][1:]}
    if "TensorrtExecutionProvider" in ort.get_available_providers():
        configs["tensorrt"] = gpu.extra["onnxruntime"]["providers"]
    runs = {}
    for label, providers in configs.items():
        try:
            provs = [tuple(p) if isinstance(p, list) else p for p in providers]
            s = ort.InferenceSession(str(gpu.path), providers=provs)
            got = s.run(None, {name: x_all})[0]
            res[label] = {
                "providers_in_effect": s.get_providers(),
                "max_abs_vs_cpu_fp32": float(np.abs(got - ref).max()),
                "top1_agreement": float((got.argmax(1) == ref.argmax(1)).mean()),
                "accuracy": float((got.argmax(1) == ds.labels).mean()),
            }
            runs[label] = s
        except Exception as e:
            res[label] = {"error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc()}
    res["cpu_fp32_accuracy"] = float((ref.argmax(1) == ds.labels).mean())
    # edgeopt's own paths on a GPU: the target-aware session and `optimize verify`
    try:
        from edgeopt.targets.registry import open_target_session
        from edgeopt.targets.verify import verify_path

        sess = open_target_session(gpu.path)
        res["edgeopt_session"] = {**sess.describe(), "outputs": sess.run([x_all[:4]])[0].shape}
        v = verify_path(gpu.path, "gpu", 64)
        res["edgeopt_verify"] = {"passed": v["passed"], "outputs": v["outputs"]}
    except Exception as e:
        res["edgeopt_paths_error"] = f"{type(e).__name__}: {e}"
    for batch in (1, 256):
        x = np.ascontiguousarray(np.resize(x_all, (batch, *x_all.shape[1:])))
        res[f"latency_batch{batch}"] = {"cpu_fp32": timer(lambda a: cpu.run(None, {name: a}), x)}
        for label, s in runs.items():
            res[f"latency_batch{batch}"][f"gpu_fp16_{label}"] = timer(
                lambda a, s=s: s.run(None, {name: a}), x
            )
    (out_dir / "gpu_check.json").write_text(json.dumps(res, indent=2, default=str) + "\n")
    print(json.dumps(res, indent=2, default=str))


if __name__ == "__main__":
    main()
