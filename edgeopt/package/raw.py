"""Raw input in bundles: the tokenizer or image-processor files of a model folder (hf:), the
preprocessing the runner repeats on the device (`run.py --text`, `--image`), and raw samples
with reference outputs so `verify` checks that path end to end (with edgeopt's own
preprocessing code: verify never runs the bundle's run.py).

The preprocessing is recorded once, by the export of the folder (sidecar extra), and found
here through the lineage.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from edgeopt.artifacts.lineage import inherited
from edgeopt.core.progress import step
from edgeopt.core.spec import numpy_dtype
from edgeopt.data import hf_folder
from edgeopt.errors import UsageError

FOLDER = "preprocessing"
RAW_TEXTS = (
    "Return a new list containing all items from the iterable in ascending order.",
    "The weather in Lisbon is mild in the winter.",
    "Edge devices have little memory and slow processors.",
)
RAW_REFERENCES = "samples/raw_reference_outputs.npz"


def preprocessing_of(path: Path) -> dict | None:
    return inherited(path, "preprocessing")


def stage(prep: dict, root: Path, session, in_specs: list[dict], out_specs: list[dict]) -> dict:
    """Copy the preprocessing files into `root`, write raw samples and the outputs `session`
    gives for them; returns the manifest's preprocessing entry (paths inside the bundle)."""
    folder = Path(prep["folder"])
    (root / FOLDER).mkdir()
    for name in prep["files"]:
        src = folder / name
        if not src.is_file():
            raise UsageError(
                f"{src} is gone: the bundle needs the model folder's {name}",
                "package where the hf: folder the model was exported from still exists",
            )
        shutil.copy2(src, root / FOLDER / name)
    entry = {k: v for k, v in prep.items() if k != "folder"}
    entry["files"] = [f"{FOLDER}/{n}" for n in prep["files"]]
    if prep["kind"] == "text":
        entry["tokenizer"] = f"{FOLDER}/tokenizer.json"
        texts = list(RAW_TEXTS)
        (root / "samples/raw_texts.json").write_text(json.dumps(texts, indent=1) + "\n")
        arrays = text_inputs(root / FOLDER, texts, prep, in_specs)
        raw = {"texts": "samples/raw_texts.json"}
    else:
        (root / "samples/raw").mkdir()
        images = synthetic_images()
        names = []
        for i, img in enumerate(images):
            from PIL import Image

            names.append(f"samples/raw/{i}.png")
            Image.fromarray(img).save(root / names[-1])
        arrays = {"pixel_values": hf_folder.process_images(images, prep["processor"])}
        raw = {"images": names}
    xs = [arrays[s["name"]].astype(numpy_dtype(s["dtype"])) for s in in_specs]
    outputs = session.run(xs)
    np.savez(root / RAW_REFERENCES, **{s["name"]: o for s, o in zip(out_specs, outputs)})
    entry["raw_samples"] = {**raw, "reference_outputs": RAW_REFERENCES}
    return entry


def text_inputs(folder: Path, texts: list[str], prep: dict, in_specs: list[dict]) -> dict:
    """Tokenized as the runner does: truncated at max_length, padded to a fixed sequence
    dim when the model has one, else to the longest text."""
    seq = in_specs[0]["shape"][1] if len(in_specs[0]["shape"]) > 1 else None
    fixed = seq if isinstance(seq, int) else None
    max_length = min(prep["max_length"], fixed) if fixed else prep["max_length"]
    tok = hf_folder.load_tokenizer(folder, max_length, pad_to=fixed or 0)
    encs = tok.encode_batch(texts)
    return {
        "input_ids": np.array([e.ids for e in encs], np.int64),
        "attention_mask": np.array([e.attention_mask for e in encs], np.int64),
        "token_type_ids": np.array([e.type_ids for e in encs], np.int64),
    }


def synthetic_images() -> list[np.ndarray]:
    """Two seeded RGB pictures of different sizes and aspect ratios (resize and crop matter)."""
    rng = np.random.default_rng(0)
    out = []
    for h, w in ((96, 72), (60, 110)):
        y, x = np.mgrid[0:h, 0:w]
        base = np.stack([x * 255 / w, y * 255 / h, (x + y) * 127 / (h + w)], -1)
        out.append(np.clip(base + rng.normal(0, 20, (h, w, 3)), 0, 255).astype(np.uint8))
    return out


def check_raw(root: Path, manifest: dict, session) -> dict | None:
    """The bundle's raw samples, preprocessed by edgeopt's own code (as the runner does on the
    device) and run through `session`, against the bundle's raw references. None: no raw
    samples. Nothing from the bundle is executed: run.py is never run (see package.verify)."""
    from edgeopt.metrics.compare import compare_outputs
    from edgeopt.optimize.parity import Tolerance
    from edgeopt.package.manifest import BundleError

    prep = manifest.get("preprocessing") or {}
    raw = prep.get("raw_samples")
    if not raw:
        return None
    in_specs = manifest["inputs"]
    with step("run the raw-input samples through edgeopt's preprocessing"):
        try:
            if prep.get("kind") == "text":
                texts = json.loads((root / raw["texts"]).read_text())
                if not (isinstance(texts, list) and all(isinstance(t, str) for t in texts)):
                    raise ValueError(f"{raw['texts']} is not a list of texts")
                arrays = text_inputs(root / FOLDER, texts, prep, in_specs)
            else:
                from PIL import Image

                images = [np.asarray(Image.open(root / p).convert("RGB")) for p in raw["images"]]
                arrays = {"pixel_values": hf_folder.process_images(images, prep["processor"])}
            xs = [arrays[s["name"]].astype(numpy_dtype(s["dtype"])) for s in in_specs]
            refs = np.load(root / raw["reference_outputs"])
            expected = [refs[s["name"]] for s in manifest["outputs"]]
        except (KeyError, TypeError, ValueError, OSError, UsageError) as e:
            raise BundleError(
                f"the bundle's raw-input samples cannot be read: {type(e).__name__}: {e}",
                "rebuild the bundle with optimize package",
            ) from e
        outputs = session.run(xs)
    tol = Tolerance(**manifest["tolerance"])
    results = {}
    for spec, ref, out in zip(manifest["outputs"], expected, outputs):
        stats = compare_outputs(ref, out)
        results[spec["name"]] = stats
        if not tol.allows(stats):
            raise BundleError(
                f"the bundle's raw-input samples failed end to end: output {spec['name']!r} max "
                f"abs diff {stats.get('max_abs', float('nan')):.3g} (atol {tol.atol:g}, "
                f"rtol {tol.rtol:g})",
                "the preprocessing or runtime here differs from the one that packaged it",
            )
    return {"passed": True, "outputs": results, "by": "edgeopt preprocessing (run.py not run)"}
