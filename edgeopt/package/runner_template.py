"""Runs a bundled model on its sample inputs with only numpy and the runtime installed.

Usage: python run.py [--check] [--key release.pub] [--bundle DIR]   (DIR: the unpacked bundle,
default: the folder of this file)
With --check, compares the outputs with samples/reference_outputs.npz using the manifest's
tolerance and exits 1 on a mismatch.

Bundles of Hugging Face models also take raw input, preprocessed as the manifest records:
  python run.py --text "a sentence" [--text "another"]   (needs the `tokenizers` package)
  python run.py --image photo.jpg [--image other.png]     (needs Pillow)
  python run.py --check-raw     (the bundled raw samples against their reference outputs)
Add --save out.npz to write the outputs.

Checks before anything is loaded: every path the manifest names must be relative, normalised
and listed (with its sha256) in the manifest. With --key release.pub (needs the `cryptography`
package) the manifest's signature and every file's sha256 are checked too, and nothing runs
unless they hold. This file is part of the bundle it checks: to check bundles from an untrusted
channel, keep a trusted copy of run.py on the device and point it at the unpacked bundle with
--bundle DIR.

The path and signature rules below are imported by edgeopt itself (package.manifest and
package.signing), so `optimize verify` and this runner apply one definition.
"""

import base64
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SIGNATURE = "manifest.json.sig"
RESERVED = ("manifest.json", SIGNATURE)


def show(name, limit=80):
    """A manifest value as it goes into a message: quoted, and cut when long."""
    text = repr(name)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def path_problem(name):
    """Why `name` cannot name a file of a bundle, or None. Paths are '/'-separated, relative and
    normalised, so no entry can reach outside the folder the bundle is unpacked into."""
    if not isinstance(name, str) or not name:
        return "is empty or not a string"
    if len(name) > 1024 or "\\" in name or any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "has a backslash or a control character, or is too long"
    if name.startswith("/") or name[1:2] == ":":
        return "is absolute"
    if any(part in ("", ".", "..") for part in name.split("/")):
        return "is not normalised (an empty, '.' or '..' part)"
    return None


def named_paths(manifest):
    """(entry, path) for every file the manifest names outside its `files` table."""
    model = manifest.get("model") if isinstance(manifest.get("model"), dict) else {}
    samples = manifest.get("samples") if isinstance(manifest.get("samples"), dict) else {}
    prep = manifest.get("preprocessing") if isinstance(manifest.get("preprocessing"), dict) else {}
    raw = prep.get("raw_samples") if isinstance(prep.get("raw_samples"), dict) else {}
    out = [("model.file", model.get("file"))]
    out += [(f"samples.{k}", samples.get(k)) for k in ("inputs", "reference_outputs")]
    if "tokenizer" in prep:
        out.append(("preprocessing.tokenizer", prep["tokenizer"]))
    out += [
        (f"preprocessing.raw_samples.{k}", raw[k])
        for k in ("texts", "reference_outputs")
        if k in raw
    ]
    for key, values in (
        ("preprocessing.files", prep.get("files")),
        ("preprocessing.raw_samples.images", raw.get("images")),
    ):
        if isinstance(values, list):
            out += [(f"{key}[{i}]", v) for i, v in enumerate(values)]
        elif values is not None:
            out.append((key, values))  # not a list: reported as not a path
    return out


def manifest_problems(manifest):
    """Every reason the manifest cannot be trusted to name files, before any file is touched:
    each path is safe (see path_problem), each `files` entry has a sha256 and a byte count, and
    each path named elsewhere (the model, samples, preprocessing) is one of the hashed files."""
    if not isinstance(manifest, dict):
        return ["manifest.json is not a JSON object"]
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        return ["manifest.json has no `files` table"]
    problems = []
    for name, meta in files.items():
        why = path_problem(name) or ("is reserved" if name in RESERVED else None)
        if why:
            problems.append(f"files entry {show(name)} {why}")
        elif not (
            isinstance(meta, dict)
            and isinstance(meta.get("sha256"), str)
            and len(meta["sha256"]) == 64
            and all(c in "0123456789abcdef" for c in meta["sha256"])
            and type(meta.get("bytes")) is int
            and meta["bytes"] >= 0
        ):
            problems.append(f"files entry {show(name)} lacks a sha256 or a byte count")
    folders = {  # every folder above a listed file: none may be a listed file itself
        n.rsplit("/", i)[0] for n in files if isinstance(n, str) for i in range(1, n.count("/") + 1)
    }
    problems += [
        f"files entry {show(n)} is also a folder of other entries" for n in files if n in folders
    ]
    for entry, name in named_paths(manifest):
        why = path_problem(name)
        if why:
            problems.append(f"{entry} {show(name)} {why}")
        elif name not in files:
            problems.append(f"{entry} {show(name)} is not one of the hashed files")
    return problems


def load_public_key(pem):
    """An Ed25519 public key from PEM bytes. ImportError without `cryptography`, ValueError
    when the bytes are not one."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def key_fingerprint(key):
    """sha256 of the raw public key: names the key in signatures and messages."""
    from cryptography.hazmat.primitives import serialization

    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def signature_problem(manifest_bytes, signature, key):
    """Why `signature` (the bytes of manifest.json.sig, None when absent) does not show that
    `key` signed these exact manifest bytes, or None. The manifest holds every file's sha256,
    so this plus the hash check covers the whole bundle."""
    from cryptography.exceptions import InvalidSignature

    if signature is None:
        return f"the bundle is not signed (it has no {SIGNATURE})"
    try:
        sig = json.loads(signature)
        algorithm, made_by = sig["algorithm"], sig["key_fingerprint"]
        raw = base64.b64decode(sig["signature"], validate=True)
    except (ValueError, KeyError, TypeError):
        return f"{SIGNATURE} is malformed"
    if algorithm != "ed25519":
        return f"{SIGNATURE} uses {show(algorithm)}, not ed25519"
    want = key_fingerprint(key)
    if made_by != want:
        return f"{SIGNATURE} was made with key {show(made_by)}, not with the given key ({want})"
    try:
        key.verify(raw, manifest_bytes)
    except InvalidSignature:
        return (
            f"manifest.json does not match its signature {SIGNATURE}: the manifest or the "
            "signature was changed after signing"
        )
    return None


def file_problems(root, manifest):
    """Each listed file against its size and sha256 (read in chunks)."""
    problems = []
    for name, meta in manifest["files"].items():
        p = root / name
        if p.is_symlink() or not p.is_file():
            problems.append(f"{name}: missing or not a regular file")
            continue
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        if p.stat().st_size != meta["bytes"] or h.hexdigest() != meta["sha256"]:
            problems.append(f"{name}: sha256 differs from the manifest (file was modified)")
    return problems


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


def _values(flag):
    args = sys.argv[1:]
    return [args[i + 1] for i, a in enumerate(args[:-1]) if a == flag]


def tokenize(manifest, texts):
    """As edgeopt tokenized calibration and evaluation data: truncate at max_length; pad to the
    model's fixed sequence length, or to the longest text."""
    try:
        from tokenizers import Tokenizer
    except ImportError:
        sys.exit("--text needs the `tokenizers` package: pip install tokenizers")
    prep = manifest["preprocessing"]
    tok = Tokenizer.from_file(str(HERE / prep["tokenizer"]))
    seq = manifest["inputs"][0]["shape"][1] if len(manifest["inputs"][0]["shape"]) > 1 else None
    fixed = seq if isinstance(seq, int) else None
    tok.no_padding()
    tok.enable_truncation(max_length=min(prep["max_length"], fixed or prep["max_length"]))
    pad_id = tok.token_to_id(prep["pad_token"])
    tok.enable_padding(length=fixed, pad_id=pad_id or 0, pad_token=prep["pad_token"])
    encs = tok.encode_batch(list(texts))
    return {
        "input_ids": np.array([e.ids for e in encs], np.int64),
        "attention_mask": np.array([e.attention_mask for e in encs], np.int64),
        "token_type_ids": np.array([e.type_ids for e in encs], np.int64),
    }


def process_images(manifest, paths):
    """The model folder's image processor steps, as numbers in the manifest."""
    from PIL import Image

    conf = manifest["preprocessing"]["processor"]
    h, w = conf["size"]
    out = np.empty((len(paths), 3, h, w), np.float32)
    for i, p in enumerate(paths):
        pil = Image.open(p).convert("RGB")
        size = conf["resize"]
        if size and "height" in size:
            pil = pil.resize((int(size["width"]), int(size["height"])), conf["resample"])
        elif size:
            edge, crop_pct = int(size["shortest_edge"]), conf.get("crop_pct")
            if (crop_pct and not conf["crop"] and edge >= 384) or not (crop_pct or conf["crop"]):
                pil = pil.resize((edge, edge), conf["resample"])
            else:
                edge = int(edge / crop_pct) if crop_pct and not conf["crop"] else edge
                pw, ph = pil.size
                short, long = min(pw, ph), max(pw, ph)
                new_long = int(edge * long / short)
                pil = pil.resize(
                    (edge, new_long) if pw <= ph else (new_long, edge), conf["resample"]
                )
        arr = np.asarray(pil, np.float32)
        if conf["crop"] or arr.shape[:2] != (h, w):
            top, left = max((arr.shape[0] - h) // 2, 0), max((arr.shape[1] - w) // 2, 0)
            arr = arr[top : top + h, left : left + w]
        arr = arr * conf["rescale"]
        if conf["mean"]:
            arr = (arr - np.asarray(conf["mean"], np.float32)) / np.asarray(conf["std"], np.float32)
        out[i] = arr.transpose(2, 0, 1)
    return {"pixel_values": out}


def raw_inputs(manifest, texts, images):
    arrays = tokenize(manifest, texts) if texts else process_images(manifest, images)
    return [arrays[s["name"]].astype(s["dtype"]) for s in manifest["inputs"]]


def check(manifest, outputs, reference):
    ref = np.load(HERE / reference)
    tol = manifest["tolerance"]
    for spec, out in zip(manifest["outputs"], outputs):
        r = ref[spec["name"]]
        diff = float(np.max(np.abs(out - r)))
        limit = tol["atol"] + tol["rtol"] * float(np.max(np.abs(r)))
        print(f"{spec['name']}: max abs diff {diff:.3g} (allowed {limit:.3g})")
        if diff > limit:
            sys.exit(1)
    print("ok")


def _option(flag):
    """The value of `flag`, or None; a flag given without a value stops the run (an ignored
    --key would run an unchecked bundle)."""
    values = _values(flag)
    if flag in sys.argv and not values:
        sys.exit(f"{flag} needs a value")
    return values[0] if values else None


def checked_manifest():
    """The manifest once its paths are safe; with --key, once its signature and every file's
    sha256 hold. Nothing from the bundle is loaded before this returns."""
    raw = (HERE / "manifest.json").read_bytes()
    try:
        manifest = json.loads(raw)
    except ValueError as e:
        sys.exit(f"refusing this bundle: manifest.json is corrupt ({e})")
    problems = manifest_problems(manifest)
    if problems:
        sys.exit("refusing this bundle: " + "; ".join(problems))
    key_file = _option("--key")
    if key_file is None:
        print(
            "note: the bundle's authenticity was not checked (pass --key release.pub)",
            file=sys.stderr,
        )
        return manifest
    try:
        key = load_public_key(Path(key_file).read_bytes())
    except ImportError:
        sys.exit(
            "cannot check the signature: the `cryptography` package is not installed here "
            "(pip install cryptography); nothing was run"
        )
    except (OSError, ValueError) as e:
        sys.exit(f"cannot use the key {key_file}: {e}")
    sig = HERE / SIGNATURE
    sig_bytes = sig.read_bytes() if sig.is_file() and not sig.is_symlink() else None
    problem = signature_problem(raw, sig_bytes, key) or "; ".join(file_problems(HERE, manifest))
    if problem:
        sys.exit(f"refusing this bundle: {problem}")
    print(f"signature ok ({key_fingerprint(key)}); every file matches its sha256", file=sys.stderr)
    return manifest


def main():
    global HERE
    bundle = _option("--bundle")
    if bundle:
        HERE = Path(bundle).resolve()
    manifest = checked_manifest()
    prep = manifest.get("preprocessing") or {}
    texts, images = _values("--text"), _values("--image")
    raw = prep.get("raw_samples")
    if "--check-raw" in sys.argv:
        if not raw:
            sys.exit("this bundle has no raw samples (its model takes arrays)")
        if "texts" in raw:
            texts = json.loads((HERE / raw["texts"]).read_text())
        else:
            images = [HERE / p for p in raw["images"]]
    if (texts or images) and prep.get("kind") != ("text" if texts else "image"):
        sys.exit(f"this model does not take {'text' if texts else 'images'}")
    if texts or images:
        xs = raw_inputs(manifest, texts, images)
    else:
        inputs = np.load(HERE / manifest["samples"]["inputs"])
        xs = [inputs[s["name"]] for s in manifest["inputs"]]
    outputs = load(manifest)(xs)
    labels = prep.get("labels")
    for spec, out in zip(manifest["outputs"], outputs):
        print(f"{spec['name']}: shape {tuple(out.shape)}")
        if labels and out.ndim == 2 and out.shape[1] == len(labels) and (texts or images):
            print("  predicted: " + ", ".join(labels[i] for i in out.argmax(1)))
    saved = _values("--save")
    if saved:
        np.savez(saved[0], **{s["name"]: o for s, o in zip(manifest["outputs"], outputs)})
    if "--check-raw" in sys.argv:
        check(manifest, outputs, raw["reference_outputs"])
    elif "--check" in sys.argv:
        check(manifest, outputs, manifest["samples"]["reference_outputs"])


if __name__ == "__main__":
    main()
