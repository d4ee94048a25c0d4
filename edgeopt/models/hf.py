"""Hugging Face model folders as sources: ``hf:DIR`` (a local folder; never the hub).

The task comes from config.json's ``architectures`` (or ``--task``). The source is a torch
module whose forward takes the tokenizer's inputs positionally (``input_ids``,
``attention_mask``, ``token_type_ids`` where the model takes it) or ``pixel_values``, and returns
named outputs; a sentence-transformers folder's pooling and normalisation are part of it, so
exports return sentence embeddings. What the inputs need (tokenizer files, image processor)
is recorded once, in ``SourceModel.preprocessing``, which export writes to the sidecar.
"""

from __future__ import annotations

import hashlib
import inspect
from pathlib import Path

from edgeopt.core.spec import TensorSpec, reconcile_inputs
from edgeopt.data import hf_folder
from edgeopt.errors import UsageError
from edgeopt.models.base import SourceModel

PREFIX = "hf:"
# task -> (transformers Auto class, output names)
TASKS = {
    "feature-extraction": ("AutoModel", ["last_hidden_state"]),
    "text-classification": ("AutoModelForSequenceClassification", ["logits"]),
    "token-classification": ("AutoModelForTokenClassification", ["logits"]),
    "image-classification": ("AutoModelForImageClassification", ["logits"]),
    "question-answering": ("AutoModelForQuestionAnswering", ["start_logits", "end_logits"]),
}
_ARCH_SUFFIXES = (
    ("ForSequenceClassification", "text-classification"),
    ("ForTokenClassification", "token-classification"),
    ("ForImageClassification", "image-classification"),
    ("ForQuestionAnswering", "question-answering"),
    ("Model", "feature-extraction"),
)


def task_of(config: dict, folder: Path) -> str:
    """The task config.json's first architecture implies."""
    archs = config.get("architectures") or []
    for arch in archs:
        for suffix, task in _ARCH_SUFFIXES:
            if arch.endswith(suffix):
                return task
    raise UsageError(
        f"cannot tell the task of {folder} from config.json architectures {archs}",
        f"pass --task ({', '.join(TASKS)})",
    )


def load_hf_source(
    ref: str, input_specs: list[TensorSpec] | None = None, task: str | None = None
) -> SourceModel:
    folder = Path(ref[len(PREFIX) :])
    if not (folder / "config.json").is_file():
        raise UsageError(
            f"{folder} is not a Hugging Face model folder (no config.json)",
            "give hf:DIR with the folder save_pretrained wrote (config.json, weights, tokenizer)",
        )
    config = hf_folder.read_json(folder / "config.json", "model config")
    task = task or task_of(config, folder)
    if task not in TASKS:
        raise UsageError(f"unknown task {task!r}", f"use one of {', '.join(TASKS)}")
    model = _load_model(folder, task)
    image = getattr(model, "main_input_name", "input_ids") == "pixel_values"
    pooling = None if image or task != "feature-extraction" else _pooling(folder)
    outputs = ["sentence_embedding"] if pooling else list(TASKS[task][1])
    if image:
        prep = _image_preprocessing(folder)
        h, w = prep["processor"]["size"]
        channels = int(config.get("num_channels", 3))
        specs = [TensorSpec("pixel_values", ["batch", channels, h, w], "float32")]
    else:
        prep = _text_preprocessing(folder)
        names = _text_inputs(model, folder)
        vocab = int(config.get("vocab_size") or 100)
        specs = [
            TensorSpec(
                n, ["batch", "sequence"], "int64", {"max_value": vocab} if n == "input_ids" else {}
            )
            for n in names
        ]
        prep["inputs"] = names
    prep.update(task=task, outputs=outputs, labels=_labels(config))
    hf_folder.use_folder(folder, prep["kind"])  # data specs of this run get its tokenizer
    module = _wrap(model, [s.name for s in specs], outputs, pooling)
    return SourceModel(
        ref=f"{PREFIX}{folder}",
        format="torch",
        name=folder.resolve().name,
        inputs=reconcile_inputs(specs, input_specs, ref),
        output_names=outputs,
        module=module,
        task=task,
        preprocessing=prep,
        digest=_digest(folder),
    )


def _load_model(folder: Path, task: str):
    try:
        from edgeopt.core.progress import quiet

        with quiet():
            import transformers
    except ImportError as e:
        raise UsageError(
            "hf: sources need the `transformers` package, which is not installed",
            "install the extra: pip install 'edgeopt[hf]'",
        ) from e
    cls = getattr(transformers, TASKS[task][0])
    try:
        with quiet():
            model = cls.from_pretrained(
                str(folder), local_files_only=True, attn_implementation="eager"
            )
    except Exception as e:
        from edgeopt.core.text import first_line

        raise UsageError(
            f"cannot load {folder} as {task}: {first_line(e, 200)}",
            f"check the folder's weights and config, or pass another --task ({', '.join(TASKS)})",
        ) from e
    return model.eval()


def _text_inputs(model, folder: Path) -> list[str]:
    """The tokenizer's outputs the model's forward takes, in the tokenizer's usual order."""
    cfg = folder / "tokenizer_config.json"
    tok_names = (hf_folder.read_json(cfg, "tokenizer config") if cfg.exists() else {}).get(
        "model_input_names"
    ) or list(hf_folder.TEXT_INPUTS)
    params = inspect.signature(model.forward).parameters
    return [n for n in hf_folder.TEXT_INPUTS if n in tok_names and n in params]


def _text_preprocessing(folder: Path) -> dict:
    hf_folder.tokenizer_file(folder)  # refuse a folder without tokenizer.json now, not in a bundle
    settings = hf_folder.tokenizer_settings(folder)
    return {
        "kind": "text",
        "folder": str(folder.resolve()),
        "files": [f for f in hf_folder.TOKENIZER_FILES if (folder / f).exists()],
        "max_length": min(settings["model_max_length"] or 512, 512),
        "pad_token": settings["pad_token"],
    }


def _image_preprocessing(folder: Path) -> dict:
    return {
        "kind": "image",
        "folder": str(folder.resolve()),
        "files": list(hf_folder.PROCESSOR_FILES),
        "processor": hf_folder.processor_config(folder),
    }


def _labels(config: dict) -> list[str] | None:
    id2label = config.get("id2label") or {}
    return [str(id2label[k]) for k in sorted(id2label, key=int)] or None


def _pooling(folder: Path) -> dict | None:
    """sentence-transformers pooling (modules.json + 1_Pooling/config.json), else None."""
    modules_file = folder / "modules.json"
    if not modules_file.exists():
        return None
    import json

    modules = json.loads(modules_file.read_text())
    pool = next((m for m in modules if m.get("type", "").endswith("Pooling")), None)
    if pool is None:
        return None
    conf = hf_folder.read_json(folder / pool["path"] / "config.json", "pooling config")
    modes = [
        m
        for m in ("cls_token", "max_tokens", "mean_sqrt_len_tokens", "mean_tokens")
        if conf.get(f"pooling_mode_{m}")
    ]
    if len(modes) != 1:
        raise UsageError(
            f"{folder}: pooling modes {modes or 'none'} (one of cls, max, mean, mean_sqrt_len is supported)",
            "use --task feature-extraction on a folder without modules.json for token outputs",
        )
    normalize = any(m.get("type", "").endswith("Normalize") for m in modules)
    return {"mode": modes[0], "normalize": normalize}


def _digest(folder: Path) -> str:
    """sha256 over the folder's files (names and contents): what identifies the source."""
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts):
            h.update(p.relative_to(folder).as_posix().encode() + b"\0")
            with p.open("rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
    return h.hexdigest()


def _wrap(model, input_names: list[str], outputs: list[str], pooling: dict | None):
    from edgeopt.models.hf_wrap import wrap

    return wrap(model, input_names, outputs, pooling)
