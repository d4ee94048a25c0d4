"""Photos as datasets: ``images:DIR`` (sub-folders = class labels) and ``skimage:photos``.

Query options after ``?``: ``size=224`` or ``size=224x160`` (H x W, default 224), ``mean=`` and
``std=`` (three comma-separated values, applied after scaling to [0, 1]; default none), e.g.
``images:val/?size=224&mean=0.485,0.456,0.406&std=0.229,0.224,0.225``. Images are RGB float32,
[N, H, W, 3]; fit_inputs turns them to [N, 3, H, W] for models that want channels first.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

import numpy as np

from edgeopt.data.base import Dataset
from edgeopt.errors import UsageError

SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
# colour photos that scikit-image ships (no download)
SKIMAGE_PHOTOS = (
    "astronaut",
    "chelsea",
    "coffee",
    "rocket",
    "immunohistochemistry",
    "cat",
    "colorwheel",
    "hubble_deep_field",
    "retina",
)


def parse_options(rest: str) -> tuple[str, dict]:
    target, _, query = rest.partition("?")
    opts = {k: v[-1] for k, v in parse_qs(query).items()}
    unknown = set(opts) - {"size", "mean", "std", "processor"}
    if unknown:
        raise UsageError(
            f"unknown image option {sorted(unknown)[0]!r}", "use size=, mean=, std= or processor="
        )
    if opts.get("processor"):  # an hf folder's image processor decides every step
        from edgeopt.data.hf_folder import processor_config

        return target, {
            "processor": processor_config(Path(opts["processor"])),
            "dir": opts["processor"],
        }
    size = opts.get("size", "224")
    try:
        hw = tuple(int(v) for v in size.lower().split("x"))
        hw = hw * 2 if len(hw) == 1 else hw
        mean = [float(v) for v in opts["mean"].split(",")] if "mean" in opts else None
        std = [float(v) for v in opts["std"].split(",")] if "std" in opts else None
    except ValueError as e:
        raise UsageError(
            f"malformed image options {query!r}", "e.g. ?size=224&mean=0.5,0.5,0.5"
        ) from e
    if len(hw) != 2 or (mean and len(mean) != 3) or (std and len(std) != 3):
        raise UsageError(f"malformed image options {query!r}", "size=HxW, mean/std: 3 values each")
    return target, {"size": hw, "mean": mean, "std": std}


def to_array(images: list[np.ndarray], opts: dict) -> np.ndarray:
    """Resize (bilinear) to size, scale to [0, 1], normalise: [N, H, W, 3] float32.

    With an hf image processor: its own steps, [N, 3, H, W] as the model takes them."""
    from PIL import Image

    if opts.get("processor"):
        from edgeopt.data.hf_folder import process_images

        return process_images(images, opts["processor"])

    h, w = opts["size"]
    out = np.empty((len(images), h, w, 3), np.float32)
    for i, img in enumerate(images):
        pil = Image.fromarray(img).convert("RGB").resize((w, h), Image.BILINEAR)
        out[i] = np.asarray(pil, np.float32) / 255.0
    if opts["mean"]:
        out -= np.asarray(opts["mean"], np.float32)
    if opts["std"]:
        out /= np.asarray(opts["std"], np.float32)
    return out


def load_folder(rest: str):
    from PIL import Image

    target, opts = parse_options(rest)
    root = Path(target)
    if not root.is_dir():
        raise UsageError(f"image folder not found: {root}", "give images:path/to/folder")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in SUFFIXES)
    if not files:
        raise UsageError(f"no images ({', '.join(SUFFIXES)}) under {root}", "check the folder")
    classes = sorted({p.parent.relative_to(root).as_posix() for p in files} - {"."})
    images = []
    for p in files:
        try:
            images.append(np.asarray(Image.open(p).convert("RGB")))
        except OSError as e:
            raise UsageError(f"cannot read image {p}: {e}", "remove or replace the file") from e
    labels = None
    if classes and all(p.parent != root for p in files):
        index = {c: i for i, c in enumerate(classes)}
        if opts.get("processor"):
            index, classes = _model_labels(root, classes, Path(opts["dir"]))
        labels = np.array([index[p.parent.relative_to(root).as_posix()] for p in files])
    return Dataset(f"images:{rest}", [to_array(images, opts)], labels, class_names=classes or None)


def _model_labels(root: Path, folders: list[str], model_dir: Path):
    """Sub-folder names mapped to the hf model's class ids (names or ids from config.json)."""
    from edgeopt.data.hf_folder import label_set

    known = label_set(model_dir)
    if known is None:
        raise UsageError(
            f"{root} has class sub-folders but the model in {model_dir} has no label set",
            "put the images directly in the folder, or use a classification model",
        )
    for f in folders:
        if f not in known:
            raise UsageError(
                f"image folder {root / f}: {f!r} is not in the model's label set",
                f"name sub-folders after the model's labels (config.json id2label), e.g. "
                f"{', '.join(list(known)[:5])}",
            )
    names = {}
    for name, i in known.items():
        names.setdefault(i, name)
    return {f: known[f] for f in folders}, [names[i] for i in sorted(names)]


def load_skimage(rest: str):
    import skimage.data

    name, opts = parse_options(rest)
    if name != "photos":
        raise UsageError(f"unknown scikit-image set {name!r}", "use skimage:photos")
    images = [getattr(skimage.data, n)() for n in SKIMAGE_PHOTOS]
    return Dataset(f"skimage:{rest}", [to_array(images, opts)], None)
