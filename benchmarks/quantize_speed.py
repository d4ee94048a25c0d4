"""Side-by-side speed, size and accuracy of float vs static int8 digits-cnn (ONNX, OpenVINO, TFLite).

Run: PYTHONPATH=. python benchmarks/quantize_speed.py [--seconds 5]
Exports the built-in CNN, quantizes it with `quantize_artifact` (static, default settings),
then times parent and child interleaved at batch 1 (and batch 32) on the same runtime.
OpenVINO is timed in f32 and in its default precision (bf16 on AMX CPUs), both recorded.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from edgeopt.data import fit_inputs, load_dataset
from edgeopt.formats import get_format
from edgeopt.models.source import load_source
from edgeopt.optimize.export import ExportConfig, export_model
from edgeopt.optimize.quantize import QuantizeConfig, quantize_artifact
from edgeopt.optimize.quantize.timing import quick_latency_ratio
from edgeopt.runtimes import open_session
from edgeopt.runtimes.base import SessionOptions


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        src = load_source("builtin:digits-cnn")
        for fmt in ("onnx", "openvino", "tflite"):
            fp = Path(d) / f"digits-cnn{get_format(fmt).suffix}"
            export_model(src, ExportConfig(to=fmt, output=fp))
            q = quantize_artifact(fp, QuantizeConfig(mode="static", latency_seconds=0))
            ds = load_dataset("sklearn:digits", "eval")
            precisions = ["f32", None] if fmt == "openvino" else [None]
            for prec in precisions:
                opts = SessionOptions(threads=args.threads, precision=prec)
                p, c = open_session(fp, options=opts), open_session(q.path, options=opts)
                for batch in (1, 32):
                    x = [a[:batch] for a in fit_inputs(ds, p.inputs)]
                    lat = quick_latency_ratio(p, c, x, args.seconds)
                    rows.append(
                        {
                            "format": fmt,
                            "batch": batch,
                            "precision": lat["parent_session"]["precision"],
                            "float_ms": lat["parent_ms"],
                            "int8_ms": lat["child_ms"],
                            "speedup": lat["speedup"],
                            "size_ratio": q.extra["size"]["ratio"],
                            "top1_float": q.extra["accuracy"]["parent"]["top1"],
                            "top1_int8": q.extra["accuracy"]["child"]["top1"],
                        }
                    )
                    print(json.dumps(rows[-1]), flush=True)
    print(
        f"\n{'format':9} {'prec':6} {'batch':>5} {'float ms':>9} {'int8 ms':>8} {'speedup':>7} "
        f"{'size':>5} {'top1 f/i8':>12}"
    )
    for r in rows:
        print(
            f"{r['format']:9} {str(r['precision']):6} {r['batch']:5d} {r['float_ms']:9.3f} "
            f"{r['int8_ms']:8.3f} {r['speedup']:7.2f} {r['size_ratio']:5.0%} "
            f"{r['top1_float']:.4f}/{r['top1_int8']:.4f}"
        )


if __name__ == "__main__":
    main()
