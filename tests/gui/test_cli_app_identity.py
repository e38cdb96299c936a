"""``leafcount segment`` and the app's Segment + Save write the same files (issue 14).

Both run :func:`leafcount.inference.pipeline.segment_photo`; this pins that
no face composes the way from a photo to labels on its own again: one plant
and a tray, with and without the CRF (a stand-in when pydensecrf2 is
missing: the composition is under test, not the CRF), and a photo above
the working size (the limit lowered so a small photo is one), whose labels
both save at the photo's own size.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage as ndi

from leafcount import cli
from leafcount.data.cvppp import read_labels
from leafcount.data.demo import DEMO_DIR
from leafcount.data.folder import read_image_size
from leafcount.data.synth import write_synth_folder
from leafcount.inference import crf, pipeline
from leafcount.inference.segment import SegmentConfig

TIMEOUT_MS = 60_000
# A random network's masks are faint: thresholds low enough that it finds leaves.
CONFIG = SegmentConfig(stop_threshold=0.0, mask_threshold=0.0, max_steps=3, assignment="argmax")
CLI_OPTIONS = ["--stop-threshold", "0", "--mask-threshold", "0", "--max-steps", "3", "--assignment", "argmax"]


def eroded(image, labels, config=None):
    """A deterministic stand-in for the dense CRF: every leaf loses its outer ring."""
    return np.where(ndi.binary_erosion(labels > 0), labels, 0).astype(labels.dtype)


def rosette(folder: Path) -> Path:
    write_synth_folder(folder, 1, seed=5)
    for label in folder.glob("*_label.png"):
        label.unlink()
    return next(folder.glob("*_rgb.png"))


def tray(folder: Path) -> Path:
    folder.mkdir()
    return Path(shutil.copy(DEMO_DIR / "chamber_tray.jpg", folder / "chamber_tray.jpg"))


def segment_in_the_app(window, qtbot, photo: Path, use_crf: bool) -> None:
    window.open_folder(photo.parent)
    qtbot.waitUntil(lambda: not window.trays.is_detecting, timeout=TIMEOUT_MS)
    window.steps.config = CONFIG
    window.actions.crf.setChecked(use_crf)
    with qtbot.waitSignal(window.segmenter.run_finished, timeout=TIMEOUT_MS):
        window.actions.segment.trigger()
    assert window.save()


def segment_with_the_cli(photo: Path, out: Path, model: Path, use_crf: bool) -> None:
    args = ["segment", str(photo), "--out", str(out), "--model", str(model), "--workers", "1", *CLI_OPTIONS]
    assert cli.main(args + (["--crf"] if use_crf else [])) == 0


def sidecar(folder: Path, stem: str) -> dict:
    record = json.loads((folder / f"{stem}_label.json").read_text())
    del record["saved"]
    return record


@pytest.mark.parametrize("use_crf", [False, True], ids=["no-crf", "crf"])
@pytest.mark.parametrize("make_photo", [rosette, tray], ids=["one-plant", "tray"])
def test_the_app_saves_what_leafcount_segment_writes(window, qtbot, tmp_path, tiny_checkpoint, monkeypatch,
                                                     make_photo, use_crf):
    if use_crf:
        monkeypatch.setattr(crf, "is_crf_available", lambda: True)
        monkeypatch.setattr(pipeline, "refine_labels", eroded)
    photo = make_photo(tmp_path / "photos")
    stem = photo.stem.removesuffix("_rgb")
    segment_with_the_cli(photo, tmp_path / "cli", tiny_checkpoint, use_crf)
    segment_in_the_app(window, qtbot, photo, use_crf)
    assert window.trays.is_active == (make_photo is tray)
    cli_labels, app_labels = read_labels(tmp_path / "cli" / f"{stem}_label.png"), read_labels(photo.parent / f"{stem}_label.png")
    assert app_labels.max() > 0  # leaves found: the comparison is not of two empty images
    np.testing.assert_array_equal(app_labels, cli_labels)
    assert sidecar(photo.parent, stem) == sidecar(tmp_path / "cli", stem)
    assert sidecar(photo.parent, stem)["meta"]["crf"] is use_crf


def test_a_photo_above_the_working_size_is_saved_at_its_own_size_by_both(window, qtbot, tmp_path, tiny_checkpoint,
                                                                         monkeypatch):
    monkeypatch.setattr(pipeline, "SEGMENT_MAX_PIXELS", 20_000)  # the 250 x 265 rosette is read at half size
    photo = rosette(tmp_path / "photos")
    stem = photo.stem.removesuffix("_rgb")
    segment_with_the_cli(photo, tmp_path / "cli", tiny_checkpoint, False)
    segment_in_the_app(window, qtbot, photo, False)
    assert window.doc.image.shape[:2] != read_image_size(photo)  # the app worked at the reduced size
    app_labels = read_labels(photo.parent / f"{stem}_label.png")
    assert app_labels.shape == read_image_size(photo) and app_labels.max() > 0
    np.testing.assert_array_equal(app_labels, read_labels(tmp_path / "cli" / f"{stem}_label.png"))
    assert sidecar(photo.parent, stem) == sidecar(tmp_path / "cli", stem)


def test_the_app_opens_the_labels_leafcount_segment_wrote_for_such_a_photo(window, qtbot, tmp_path, tiny_checkpoint,
                                                                           monkeypatch):
    monkeypatch.setattr(pipeline, "SEGMENT_MAX_PIXELS", 20_000)
    photo = rosette(tmp_path / "photos")
    segment_with_the_cli(photo, photo.parent, tiny_checkpoint, False)  # written beside the photo, at its size
    window.open_folder(photo.parent)
    doc = window.doc
    assert doc.label_error == "" and doc.labels is not None and doc.labels.shape == doc.image.shape[:2]
    assert doc.leaf_count == int(np.count_nonzero(np.bincount(read_labels(photo.parent / f"{photo.stem.removesuffix('_rgb')}_label.png").ravel())[1:]))
