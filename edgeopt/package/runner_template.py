"""Runs a bundled model on its sample inputs with only numpy and the runtime installed.

Usage: python run.py [--check]   (from the unpacked bundle folder)
With --check, compares the outputs with samples/reference_outputs.npz using the manifest's
tolerance and exits 1 on a mismatch.
"""

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def load(manifest):
    model = HERE / manifest["model"]["file"]
    runtime = manifest["model"]["runtime"]
    if runtime == "onnxruntime":
        import onnxruntime as ort

        sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
        names = [i.name for i in sess.get_inputs()]
        return lambda xs: sess.run(None, dict(zip(names, xs)))
    if runtime == "openvino":
        import openvino as ov

        core, cfg = ov.Core(), {"INFERENCE_PRECISION_HINT": "f32"}
        if model.suffix == ".blob":  # a compiled blob: imported, not compiled again
            compiled = core.import_model(model.read_bytes(), "CPU", cfg)
        else:
            compiled = core.compile_model(str(model), "CPU", cfg)
        req = compiled.create_infer_request()
        return lambda xs: [np.array(req.infer(list(xs))[o]) for o in compiled.outputs]
    if runtime == "litert":
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            from tflite_runtime.interpreter import Interpreter
        it = Interpreter(model_path=str(model))
        ins = manifest["inputs"]
        outs = manifest["outputs"]

        def run(xs):
            details = {d["name"]: d for d in it.get_input_details()}
            out_details = {d["name"]: d for d in it.get_output_details()}
            first = details[ins[0]["runtime_name"]]
            batch = int(first["shape"][0]) if len(first["shape"]) else 1  # TFLite: fixed batch
            n = len(xs[0])
            results = []
            for i in range(0, n, batch):
                part = [x[i : i + batch] for x in xs]
                real = len(part[0])
                part = [np.concatenate([p, np.repeat(p[-1:], batch - real, 0)]) for p in part]
                for spec, v in zip(ins, part):
                    d = details[spec["runtime_name"]]
                    q = spec.get("extra", {})
                    if q.get("scale"):
                        lim = np.iinfo(d["dtype"])
                        v = np.clip(np.round(v / q["scale"] + q["zero_point"]), lim.min, lim.max)
                    it.set_tensor(d["index"], v.astype(d["dtype"]))
                it.invoke()
                row = []
                for spec in outs:
                    d = out_details[spec["runtime_name"]]
                    v = it.get_tensor(d["index"]).astype(np.float32)
                    q = spec.get("extra", {})
                    if q.get("scale"):
                        v = (v - q["zero_point"]) * q["scale"]
                    row.append(v[:real])
                results.append(row)
            return [np.concatenate([r[k] for r in results]) for k in range(len(outs))]

        it.allocate_tensors()
        return run
    raise SystemExit(f"unsupported runtime {runtime}")


def main():
    manifest = json.loads((HERE / "manifest.json").read_text())
    inputs = np.load(HERE / "samples" / "inputs.npz")
    xs = [inputs[s["name"]] for s in manifest["inputs"]]
    outputs = load(manifest)(xs)
    for spec, out in zip(manifest["outputs"], outputs):
        print(f"{spec['name']}: shape {tuple(out.shape)}")
    if "--check" in sys.argv:
        ref = np.load(HERE / "samples" / "reference_outputs.npz")
        tol = manifest["tolerance"]
        for spec, out in zip(manifest["outputs"], outputs):
            r = ref[spec["name"]]
            diff = float(np.max(np.abs(out - r)))
            limit = tol["atol"] + tol["rtol"] * float(np.max(np.abs(r)))
            print(f"{spec['name']}: max abs diff {diff:.3g} (allowed {limit:.3g})")
            if diff > limit:
                sys.exit(1)
        print("ok")


if __name__ == "__main__":
    main()
