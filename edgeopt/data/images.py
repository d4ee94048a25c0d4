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
    unknown = set(opts) - {"size", "mean", "std"}
    if unknown:
        raise UsageError(f"unknown image option {sorted(unknown)[0]!r}", "use size=, mean=, std=")
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
    """Resize (bilinear) to size, scale to [0, 1], normalise: [N, H, W, 3] float32."""
    from PIL import Image

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
        labels = np.array([index[p.parent.relative_to(root).as_posix()] for p in files])
    return Dataset(f"images:{rest}", [to_array(images, opts)], labels, class_names=classes or None)


def load_skimage(rest: str):
    import skimage.data

    name, opts = parse_options(rest)
    if name != "photos":
        raise UsageError(f"unknown scikit-image set {name!r}", "use skimage:photos")
    images = [getattr(skimage.data, n)() for n in SKIMAGE_PHOTOS]
    return Dataset(f"skimage:{rest}", [to_array(images, opts)], None)
