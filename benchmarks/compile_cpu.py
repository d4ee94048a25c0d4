"""Plain export vs `optimize compile --target cpu`, timed side by side (interleaved) in one run.

usage: python benchmarks/compile_cpu.py [--models digits-cnn,...] [--threads 2] [--out DIR]

For each built-in model: export ONNX and OpenVINO IR, compile them for cpu, then time at
batch 1 with the benchmark harness (interleaved blocks; ratio to the plain export with a 95% CI):
  ORT  plain .onnx  vs  .cpu.onnx (offline-optimized)  vs  .cpu.ort
  OV   plain .xml (f32, latency hint)  vs  .cpu.blob (f32)  vs  .cpu-bf16.blob (where the CPU has bf16)
Also the session load time, where offline optimization pays most. Writes JSON + a table.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from edgeopt.data import fit_inputs, load_dataset
from edgeopt.metrics.latency import compare_latency
from edgeopt.models.builtin import BUILTINS
from edgeopt.models.source import load_source
from edgeopt.optimize.export import ExportConfig, export_model
from edgeopt.runtimes import open_session
from edgeopt.runtimes.base import SessionOptions
from edgeopt.targets.base import CompileOptions
from edgeopt.targets.cpu import cpu_capabilities
from edgeopt.targets.registry import get_target, open_target_session


def timed_open(fn):
    t = time.perf_counter()
    s = fn()
    return s, (time.perf_counter() - t) * 1000


def bench_model(name: str, folder: Path, threads: int) -> dict:
    src = load_source(f"builtin:{name}")
    onnx, xml = folder / f"{name}.onnx", folder / f"{name}.xml"
    export_model(src, ExportConfig(to="onnx", output=onnx))
    export_model(src, ExportConfig(to="openvino", output=xml))
    cpu = get_target("cpu")
    opts = CompileOptions(threads=threads)
    compiled = cpu.compile(onnx, opts) + cpu.compile(xml, opts)
    if "BF16" in cpu_capabilities():
        compiled += cpu.compile(xml, CompileOptions(threads=threads, precision="bf16"))
    x = fit_inputs(load_dataset(BUILTINS[name].dataset, "eval", samples=16), src.inputs)
    so = SessionOptions(threads=threads)
    cands = {
        "ort plain .onnx": lambda: open_session(onnx, "onnxruntime", so),
        "ov plain .xml (f32)": lambda: open_session(
            xml, "openvino", SessionOptions(threads=threads, precision="f32")
        ),
    }
    for art in compiled:
        cands[f"{'ort' if art.format in ('onnx', 'ort') else 'ov'} {art.path.name}"] = (
            lambda p=art.path: open_target_session(p)
        )
    sessions, load = {}, {}
    for k, fn in cands.items():
        sessions[k], load[k] = timed_open(fn)
    rows = {}
    for prefix, base in (("ort", "ort plain .onnx"), ("ov", "ov plain .xml (f32)")):
        group = [base, *(k for k in sessions if k.startswith(prefix) and k != base)]
        # the benchmark harness: interleaved blocks, ratio to the plain export with its 95% CI
        res = compare_latency([sessions[k] for k in group], 0, [x] * len(group), max_time=6.0)
        for k, r in zip(group, res):
            ratio = r["ratio"] or {"estimate": 1.0, "ci": [1.0, 1.0]}
            rows[k] = {
                "median_ms": r["summary"]["p50"],
                "p90_ms": r["summary"]["p90"],
                "n": r["summary"]["samples"],
                "ratio_vs_plain": ratio["estimate"],
                "ratio_ci": ratio["ci"],
                "load_ms": round(load[k], 1),
                "precision": sessions[k].describe().get("precision"),
                "threads": threads,
            }
    sizes = {a.path.name: a.size_bytes for a in compiled}
    sizes.update(
        {
            onnx.name: onnx.stat().st_size,
            xml.name: xml.stat().st_size + xml.with_suffix(".bin").stat().st_size,
        }
    )
    return {"model": name, "batch": 1, "results": rows, "sizes": sizes}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default=",".join(BUILTINS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("edgeopt-out/bench-compile-cpu"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    report = {
        "schema_version": 1,
        "benchmark": "compile_cpu",
        "cpu_capabilities": cpu_capabilities(),
        "models": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            report["models"].append(bench_model(name, Path(tmp), args.threads))
    (args.out / "compile_cpu.json").write_text(json.dumps(report, indent=2) + "\n")
    for m in report["models"]:
        print(f"\n{m['model']} (batch 1, {args.threads} threads)")
        print(
            f"  {'candidate':<34} {'median ms':>10} {'p90 ms':>8} {'vs plain [95% CI]':>20} {'load ms':>8}  precision"
        )
        for k, r in m["results"].items():
            lo, hi = r["ratio_ci"]
            ratio = f"{r['ratio_vs_plain']:.2f}x [{lo:.2f}, {hi:.2f}]"
            print(
                f"  {k:<34} {r['median_ms']:>10.4f} {r['p90_ms']:>8.4f} {ratio:>20} "
                f"{r['load_ms']:>8.1f}  {r['precision']}"
            )
        print("  sizes: " + ", ".join(f"{k} {v / 1024:.0f} KB" for k, v in m["sizes"].items()))
    print(f"\nwrote {args.out / 'compile_cpu.json'}")


if __name__ == "__main__":
    main()
