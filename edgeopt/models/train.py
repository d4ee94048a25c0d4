"""Reproduce the built-in models' weights: ``python -m edgeopt.models.train [NAME ...]``.

Seeded and single-threaded, so a rerun on the same stack gives the same weights; training
uses only the training split of each dataset (the eval split stays unseen).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from edgeopt.data import fit_inputs, load_dataset
from edgeopt.models.builtin import BUILTINS, WEIGHTS_DIR, BuiltinModel
from edgeopt.models.training import accuracy, train_model

EPOCHS = {"digits-cnn": 30, "digits-transformer": 60, "tabular-mlp": 80}


def train_builtin(spec: BuiltinModel, out_dir: Path) -> dict:
    torch.manual_seed(0)
    model = spec.build()
    train = load_dataset(spec.dataset, "train")
    ev = load_dataset(spec.dataset, "eval")
    (x,) = fit_inputs(train, list(spec.inputs))
    (xe,) = fit_inputs(ev, list(spec.inputs))
    if hasattr(model, "mean"):  # the MLP standardises inside the model
        model.mean.copy_(torch.from_numpy(x.mean(0)))
        model.std.copy_(torch.from_numpy(x.std(0) + 1e-6))
    train_model(model, x, train.labels, EPOCHS[spec.name])
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out_dir / f"{spec.name}.pt")
    return {
        "model": spec.name,
        "train_samples": len(train),
        "eval_samples": len(ev),
        "eval_accuracy": round(accuracy(model, xe, ev.labels), 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("names", nargs="*", default=list(BUILTINS))
    ap.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    for name in args.names:
        print(json.dumps(train_builtin(BUILTINS[name], args.out)))


if __name__ == "__main__":
    main()
