"""What a Hugging Face model folder says about its inputs: tokenizer, image processor, labels.

Data (``text:``, ``jsonl:``, ``images:``), sources (``hf:DIR``) and bundles all read these
facts from here, so a folder is interpreted one way. A dataset spec names the folder whose
preprocessing it needs (``text:FILE?tokenizer=DIR``); when it does not, ``bind`` fills in the
``hf:`` source loaded in this process (``use_folder``), so the spec that sidecars, cache keys
and run reports record always says which tokenizer or processor made the arrays.
"""

from __future__ import annotations

import json
from pathlib import Path

from edgeopt.errors import UsageError

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)
PROCESSOR_FILES = ("preprocessor_config.json",)
TEXT_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
DEFAULT_MAX_LENGTH = 128

_active: dict[str, str] = {}  # {"dir": ..., "kind": "text"|"image"}: the hf: source in use


def use_folder(folder: Path | None, kind: str | None = None) -> None:
    """Make `folder` the preprocessing that data specs without tokenizer=/processor= get."""
    _active.clear()
    if folder is not None and kind:
        _active.update(dir=str(Path(folder).resolve()), kind=kind)


def bind(spec: str) -> str:
    """`spec` with the active hf folder added where the data needs one and names none."""
    kind, _, rest = spec.partition(":")
    if not _active or kind not in ("text", "jsonl", "images"):
        return spec
    suffix = "@all" if rest.endswith("@all") else ""
    rest = rest.removesuffix(suffix)
    base, sep, query = rest.partition("?")
    keys = {part.partition("=")[0] for part in query.split("&") if part}
    if kind == "images":
        if _active["kind"] != "image" or keys & {"processor", "size", "mean", "std"}:
            return spec
        option = f"processor={_active['dir']}"
    else:
        if _active["kind"] != "text" or "tokenizer" in keys:
            return spec
        option = f"tokenizer={_active['dir']}"
    return f"{kind}:{base}?{query + '&' if query else ''}{option}{suffix}"


def read_json(path: Path, what: str) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UsageError(f"cannot read {what} {path}: {e}", "restore the file") from e
    if not isinstance(data, dict):
        raise UsageError(f"{what} {path} is not a JSON object", "restore the file")
    return data


def label_set(folder: Path) -> dict[str, int] | None:
    """Label name -> class index from config.json (id2label), or None for no label set."""
    cfg = Path(folder) / "config.json"
    if not cfg.exists():
        return None
    id2label = read_json(cfg, "model config").get("id2label") or {}
    if not id2label or set(id2label.values()) <= {f"LABEL_{i}" for i in range(len(id2label))}:
        # transformers' placeholder names: the ids (or LABEL_i) are the labels
        ids = [int(i) for i in id2label]
        return {**{str(i): i for i in ids}, **{f"LABEL_{i}": i for i in ids}} or None
    return {str(name): int(i) for i, name in id2label.items()}


def tokenizer_file(folder: Path) -> Path:
    path = Path(folder) / "tokenizer.json"
    if not path.exists():
        raise UsageError(
            f"{folder} has no tokenizer.json (the fast tokenizer that data and bundles use)",
            'save one: python -c "from transformers import AutoTokenizer as T; '
            f"T.from_pretrained('{folder}').save_pretrained('{folder}')\"",
        )
    return path


def tokenizer_settings(folder: Path) -> dict:
    """Pad token and id, and the longest sequence the model takes (for the truncation default)."""
    folder = Path(folder)
    cfg = folder / "tokenizer_config.json"
    conf = read_json(cfg, "tokenizer config") if cfg.exists() else {}
    st = folder / "sentence_bert_config.json"
    longest = (
        read_json(st, "sentence-transformers config").get("max_seq_length") if st.exists() else None
    )
    model_max = conf.get("model_max_length")
    if not longest and isinstance(model_max, int) and model_max < 100_000:
        longest = model_max
    pad = conf.get("pad_token") or "[PAD]"
    if isinstance(pad, dict):
        pad = pad.get("content", "[PAD]")
    return {"pad_token": str(pad), "model_max_length": longest}


def load_tokenizer(folder: Path, max_length: int, pad_to: int | None):
    """A `tokenizers` Tokenizer truncating at max_length, padding to `pad_to` (None: no
    padding, 0: the longest text of a batch).

    The bundle runner configures the same library the same way, so data fed at calibration and
    evaluation is tokenized as the device will tokenize it.
    """
    try:
        from tokenizers import Tokenizer
    except ImportError as e:
        raise UsageError(
            "text data needs the `tokenizers` package",
            "install the extra: pip install 'edgeopt[hf]'",
        ) from e
    path = tokenizer_file(folder)
    try:
        tok = Tokenizer.from_file(str(path))
    except Exception as e:
        raise UsageError(f"cannot load tokenizer {path}: {e}", "restore tokenizer.json") from e
    settings = tokenizer_settings(folder)
    tok.no_padding()
    tok.enable_truncation(max_length=max_length)
    if pad_to is not None:
        pad_id = tok.token_to_id(settings["pad_token"])
        tok.enable_padding(
            length=pad_to or None,
            pad_id=0 if pad_id is None else pad_id,
            pad_token=settings["pad_token"],
        )
    return tok


def processor_config(folder: Path) -> dict:
    """The image processor's steps as plain numbers (see images.apply_processor)."""
    path = Path(folder) / "preprocessor_config.json"
    if not path.exists():
        raise UsageError(
            f"{folder} has no preprocessor_config.json (the image processor)",
            "save the model's image processor into the folder (processor.save_pretrained(DIR))",
        )
    conf = read_json(path, "image processor config")
    size = conf.get("size") or {"height": 224, "width": 224}
    if isinstance(size, int):
        size = {"shortest_edge": size}
    crop = conf.get("crop_size") if conf.get("do_center_crop") else None
    if isinstance(crop, int):
        crop = {"height": crop, "width": crop}
    out: dict = {
        "resize": size if conf.get("do_resize", True) else None,
        "crop_pct": conf.get("crop_pct"),
        "crop": [crop["height"], crop["width"]] if crop else None,
        "resample": int(conf.get("resample", 2)),
        "rescale": float(conf.get("rescale_factor", 1 / 255))
        if conf.get("do_rescale", True)
        else 1.0,
        "mean": conf.get("image_mean") if conf.get("do_normalize", True) else None,
        "std": conf.get("image_std") if conf.get("do_normalize", True) else None,
    }
    out["size"] = output_size(out)
    return out


def output_size(conf: dict) -> list[int]:
    """[H, W] of the processed image: the crop, the fixed resize, or a square shortest edge."""
    if conf["crop"]:
        return list(conf["crop"])
    size = conf["resize"] or {}
    if "height" in size:
        return [int(size["height"]), int(size["width"])]
    edge = int(size.get("shortest_edge", 224))
    return [edge, edge]


def process_images(images: list, conf: dict):
    """RGB uint8 arrays -> [N, 3, H, W] float32 as the folder's image processor makes them:
    resize (shortest edge, with ConvNeXt's crop_pct, or a fixed size), centre crop, rescale,
    normalise. The bundle runner repeats these steps with Pillow and numpy alone."""
    import numpy as np
    from PIL import Image

    h, w = conf["size"]
    out = np.empty((len(images), 3, h, w), np.float32)
    for i, img in enumerate(images):
        pil = Image.fromarray(np.asarray(img)).convert("RGB")
        pil = _resize(pil, conf)
        arr = np.asarray(pil, np.float32)
        if conf["crop"] or arr.shape[:2] != (h, w):
            top, left = max((arr.shape[0] - h) // 2, 0), max((arr.shape[1] - w) // 2, 0)
            arr = arr[top : top + h, left : left + w]
        arr = arr * conf["rescale"]
        if conf["mean"]:
            arr = (arr - np.asarray(conf["mean"], np.float32)) / np.asarray(conf["std"], np.float32)
        out[i] = arr.transpose(2, 0, 1)
    return out


def _resize(pil, conf: dict):
    size = conf["resize"]
    if not size:
        return pil
    if "height" in size:
        return pil.resize((int(size["width"]), int(size["height"])), conf["resample"])
    edge = int(size["shortest_edge"])
    if conf.get("crop_pct") and not conf["crop"]:  # ConvNeXt: below 384, resize then crop
        if edge >= 384:
            return pil.resize((edge, edge), conf["resample"])
        edge = int(edge / conf["crop_pct"])
    elif not conf["crop"]:
        return pil.resize((edge, edge), conf["resample"])
    w, h = pil.size
    short, long = (w, h) if w <= h else (h, w)
    new_long = int(edge * long / short)
    new = (edge, new_long) if w <= h else (new_long, edge)
    return pil.resize(new, conf["resample"])
