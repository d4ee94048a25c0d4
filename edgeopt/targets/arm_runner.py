"""Runs one model under the emulated aarch64 Python: inputs from .npz, outputs to .npz.

Standalone on purpose: the aarch64 site folder holds only numpy, onnxruntime and
ai-edge-litert, so this file imports nothing from edgeopt.

usage: python arm_runner.py MODEL IN.npz OUT.npz [--threads N] [--repeats N]
"""

from __future__ import annotations

import json
import platform
import re
import sys
import time

import numpy as np


def _quantize(a, d):
    scale, zero = d.get("quantization", (0.0, 0))
    dt = np.dtype(d["dtype"])
    if scale and np.issubdtype(dt, np.integer) and np.issubdtype(a.dtype, np.floating):
        info = np.iinfo(dt)
        return np.clip(np.round(a / scale + zero), info.min, info.max).astype(dt)
    return a.astype(dt, copy=False)


def _dequantize(a, d):
    scale, zero = d.get("quantization", (0.0, 0))
    if scale and np.issubdtype(a.dtype, np.integer):
        return (a.astype(np.float32) - zero) * scale
    return np.array(a)


def _natural(key):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", key)]


def _tflite(path, threads):
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=path, num_threads=threads)
    ins, outs = interp.get_input_details(), interp.get_output_details()
    sigs = interp.get_signature_list()
    if len(sigs) == 1:  # signature order (args_0, ... / output_0, ...), as the x86 adapter uses
        runner = interp.get_signature_runner(next(iter(sigs)))
        rin, rout = runner.get_input_details(), runner.get_output_details()
        by_in = {d["index"]: d for d in ins}
        by_out = {d["index"]: d for d in outs}
        ins = [by_in[rin[k]["index"]] for k in sorted(rin, key=_natural)]
        outs = [by_out[rout[k]["index"]] for k in sorted(rout, key=_natural)]
        del runner  # a live signature runner holds tensor references; allocate_tensors refuses
    batch = int(ins[0]["shape"][0])
    interp.allocate_tensors()

    def run(arrays):
        for d, a in zip(ins, arrays):
            interp.set_tensor(d["index"], _quantize(a, d))
        interp.invoke()
        return [_dequantize(interp.get_tensor(d["index"]), d) for d in outs]

    return run, batch, "ai-edge-litert"


def _onnxruntime(path, threads):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    first = sess.get_inputs()[0].shape
    batch = first[0] if first and isinstance(first[0], int) else None
    return (lambda arrays: sess.run(None, dict(zip(names, arrays)))), batch, "onnxruntime"


def main(argv):
    model, in_path, out_path = argv[:3]
    threads = int(argv[argv.index("--threads") + 1]) if "--threads" in argv else 1
    repeats = int(argv[argv.index("--repeats") + 1]) if "--repeats" in argv else 5
    data = np.load(in_path)
    arrays = [data[f"input_{i}"] for i in range(len(data.files))]
    t0 = time.perf_counter()
    run, batch, runtime = (_tflite if model.endswith(".tflite") else _onnxruntime)(model, threads)
    load_s = time.perf_counter() - t0
    n = len(arrays[0])
    step = batch or n
    chunks = []
    for i in range(0, n, step):  # fixed-batch models run in chunks, the last one padded
        part = [a[i : i + step] for a in arrays]
        real = len(part[0])
        if real < step:
            part = [np.concatenate([p, np.repeat(p[-1:], step - real, axis=0)]) for p in part]
        chunks.append([o[:real] for o in run(part)])
    outputs = [np.concatenate([c[k] for c in chunks]) for k in range(len(chunks[0]))]
    one = [a[: batch or 1] for a in arrays]
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        run(one)
        times.append((time.perf_counter() - t) * 1000)
    np.savez(out_path, **{f"output_{i}": o for i, o in enumerate(outputs)})
    import importlib.metadata as md

    report = {
        "machine": platform.machine(),
        "python": platform.python_version(),
        "runtime": runtime,
        "runtime_version": md.version(runtime),
        "numpy": np.__version__,
        "threads": threads,
        "load_seconds": round(load_s, 3),
        "emulated_latency_ms": sorted(times),
        "latency_batch": batch or 1,
    }
    print("EDGEOPT-ARM-REPORT " + json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1:])
