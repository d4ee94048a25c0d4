"""Datasets: deterministic, disjoint splits; npz and image folders; shapes fitted to the model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgeopt.artifacts.artifact import sidecar_path
from edgeopt.core.spec import parse_input_spec
from edgeopt.data import fit_inputs, load_dataset
from edgeopt.errors import UsageError

from .conftest import run_cli


def _rows(ds) -> set[bytes]:
    return {r.tobytes() for r in ds.inputs[0]}


def test_splits_are_deterministic_and_disjoint():
    ev, tr, cal = (load_dataset("sklearn:digits", s) for s in ("eval", "train", "calib"))
    assert len(ev) + len(tr) == 1797 and len(cal) == len(tr)
    assert not (_rows(ev) & _rows(tr)) and _rows(cal) <= _rows(tr)
    assert np.array_equal(load_dataset("sklearn:digits", "eval").inputs[0], ev.inputs[0])
    assert set(np.unique(ev.labels)) == set(range(10))  # stratified


def test_npz_dataset_and_shape_errors(tmp_path):
    x = np.random.default_rng(0).normal(size=(20, 30)).astype(np.float32)
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(20) % 2)
    ds = load_dataset(f"npz:{tmp_path / 'd.npz'}@all")
    assert len(ds) == 20 and ds.labels is not None
    (fitted,) = fit_inputs(ds, [parse_input_spec("input:batchx30")])
    assert fitted.shape == (20, 30)
    with pytest.raises(UsageError, match="expects"):
        fit_inputs(ds, [parse_input_spec("input:batchx31")])


@pytest.fixture
def image_folder(tmp_path):
    import skimage.data
    from PIL import Image

    for cls, names in {"cats": ["chelsea", "cat"], "things": ["coffee", "rocket"]}.items():
        (tmp_path / cls).mkdir()
        for n in names:
            Image.fromarray(getattr(skimage.data, n)()).save(tmp_path / cls / f"{n}.png")
    return tmp_path


def test_image_folder_with_classes_and_channels_first(image_folder):
    ds = load_dataset(f"images:{image_folder}?size=16x24@all")
    assert ds.inputs[0].shape == (4, 16, 24, 3) and ds.class_names == ["cats", "things"]
    assert list(ds.labels) == [0, 0, 1, 1]
    assert 0.0 <= ds.inputs[0].min() and ds.inputs[0].max() <= 1.0
    (x,) = fit_inputs(ds, [parse_input_spec("pixel_values:batchx3x16x24")])
    assert x.shape == (4, 3, 16, 24)
    assert np.array_equal(x[1, :, 5, 7], ds.inputs[0][1, 5, 7, :])  # transposed, not reshaped
    norm = load_dataset(f"images:{image_folder}?size=16&mean=0.5,0.5,0.5&std=0.5,0.5,0.5@all")
    assert norm.inputs[0].min() < 0  # normalised to [-1, 1]
    with pytest.raises(UsageError, match="size=HxW"):
        fit_inputs(ds, [parse_input_spec("pixel_values:batchx3x32x32")])
    with pytest.raises(UsageError, match="unknown image option"):
        load_dataset(f"images:{image_folder}?colour=1")


def test_export_checked_on_real_photos(tmp_path):
    from pathlib import Path

    ref = f"{Path(__file__).parent / 'models' / 'bad_factories.py'}:small_cnn"
    out = tmp_path / "cnn.onnx"
    r = run_cli(
        "export",
        ref,
        "--to",
        "onnx",
        "-o",
        out,
        "--data",
        "skimage:photos?size=16@all",
        "--samples",
        "9",
    )
    assert r.returncode == 0, r.stderr
    meta = json.loads(sidecar_path(out).read_text())
    assert meta["parity"]["inputs"].startswith("skimage:photos")
