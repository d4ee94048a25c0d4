"""Sweep tables for `optimize prune` on the built-in models (with recovery).

    PYTHONPATH=. python benchmarks/prune_sweep.py [--models digits-cnn digits-transformer]

Per sparsity: parameters, MACs, exported ONNX size, ONNX Runtime latency at batch 1 and 64
(median ms, 1 thread, every candidate timed interleaved with the dense model in one loop, so
ratios are fair on a shared CPU) and top-1 on the eval split: right after pruning, after
fine-tuning on the train split (with distillation from the unpruned model), and of the
exported ONNX file. Ends with the issue's done-when check for digits-cnn at 50%.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

EPOCHS = {"digits-cnn": 10, "digits-transformer": 15}


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--models", nargs="*", default=list(EPOCHS))
    ap.add_argument("--sparsities", default="0.25,0.5,0.75")
    ap.add_argument("--epochs", type=int, help="fine-tuning epochs (default per model)")
    ap.add_argument("--no-distill", action="store_true")
    ap.add_argument("--lr", type=float, default=1e-3, help="fine-tuning learning rate")
    ap.add_argument("--seconds", type=float, default=6.0, help="interleaved timing per batch size")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", type=Path, help="write all rows here")
    args = ap.parse_args()

    import torch

    from edgeopt.models.source import load_source
    from edgeopt.optimize.prune import PruneConfig
    from edgeopt.optimize.prune.sweep import format_table, run_sweep

    torch.manual_seed(0)
    torch.set_num_threads(1)  # tiny models; a shared CPU makes more threads slower, not faster
    grid = [float(s) for s in args.sparsities.split(",")]
    report = {}
    for name in args.models:
        src = load_source(f"builtin:{name}")
        epochs = args.epochs or EPOCHS.get(name, 10)
        cfg = PruneConfig(
            finetune=src.dataset, epochs=epochs, lr=args.lr, distill=not args.no_distill
        )
        t0 = time.perf_counter()
        rows, results = run_sweep(src, cfg, grid, seconds=args.seconds, threads=args.threads)
        print(
            f"\n## {name} (structured, magnitude, uniform; recovery: {epochs} epochs on the "
            f"train split{', distilled' if cfg.distill else ''}; {time.perf_counter() - t0:.0f}s)"
        )
        print(format_table(rows))
        for r in results:
            heads = r.info.get("heads")
            print(
                f"  sparsity {r.sparsity:g}: removed {', '.join(r.info['units'])}"
                + (
                    f"; heads {', '.join(f'{k} {a}->{b}' for k, (a, b) in heads.items())}"
                    if heads
                    else ""
                )
            )
        report[name] = [{k: v for k, v in row.items()} for row in rows]
    if "digits-cnn" in report and 0.5 in grid:
        rows = report["digits-cnn"]
        dense, half = rows[0], next(r for r in rows if r["sparsity"] == 0.5)
        drop = 100 * (
            dense["top1_after_prune"] - (half["top1_recovered"] or half["top1_after_prune"])
        )
        print("\n## done-when check: digits-cnn at 50% structured, with recovery")
        print(f"  ONNX size ratio {half['onnx_ratio']:.3f} (<= 0.40: {half['onnx_ratio'] <= 0.40})")
        for b in (1, 64):
            ratio = half[f"latency_b{b}_ratio"]
            print(f"  ORT latency ratio batch {b}: {ratio:.3f} (<= 0.60: {ratio <= 0.60})")
        print(f"  top-1 drop {drop:.2f} points (<= 1: {drop <= 1.0})")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
