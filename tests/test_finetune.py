"""Fine-tuning on saved corrections: held-out choice, versioned checkpoints, and
a tiny model trained on one kind of rosette getting better on another kind."""

from __future__ import annotations

import doctest
from datetime import datetime

import numpy as np
import pytest
import torch
from PIL import Image

from leafcount import finetune
from leafcount.analysis.metrics import symmetric_best_dice
from leafcount.cancel import CancelToken
from leafcount.data.augment import AugmentConfig
from leafcount.data.synth import make_rosette
from leafcount.errors import Cancelled, ConfigError, LabelFormatError, LeafcountError
from leafcount.finetune import (
    FineTuneSettings,
    choose_held_out,
    fine_tune,
    labelled_images,
    load_training_pairs,
    list_checkpoints,
    new_checkpoint_path,
)
from leafcount.inference.passes import segment_image
from leafcount.io.corrections import save_corrections
from leafcount.model.checkpoint import load_checkpoint, save_checkpoint
from leafcount.model.config import ModelConfig
from leafcount.model.ris import build_ris
from leafcount.train import TrainConfig, Trainer, fit_pair, resume_path

SHAPE = (60, 64)
NO_AUGMENT = AugmentConfig(p_flip=0.0, p_rotate=0.0, scale_range=(1.0, 1.0), brightness=0.0,
                           contrast=0.0, saturation=0.0, hue=0.0)


def other_kind(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Five-leaf rosettes with red and green swapped: reddish leaves the parent never saw."""
    image, labels = make_rosette(rng, SHAPE, n_leaves=5)
    return np.ascontiguousarray(image[..., [1, 0, 2]]), labels


@pytest.fixture(scope="module")
def parent(tmp_path_factory):
    """A tiny model trained for a few seconds on three-leaf green rosettes."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny network only waits on a thread pool
    try:
        torch.manual_seed(0)
        rng = np.random.default_rng(0)
        config = ModelConfig.tiny()
        pairs = [fit_pair(f"a{i}", *make_rosette(rng, SHAPE, n_leaves=3), config.input_size) for i in range(4)]
        model = build_ris(config)
        trainer = Trainer(model, pairs, config=TrainConfig(lr=3e-3, curriculum_start=5, augment=NO_AUGMENT))
        for _ in range(300):
            trainer.train_step()
    finally:
        torch.set_num_threads(threads)
    path = tmp_path_factory.mktemp("models") / "green.safetensors"
    save_checkpoint(path, model, {"note": "trained on green three-leaf rosettes"})
    return path



@pytest.fixture
def corrected_folder(tmp_path):
    """Six photos of the other kind, each with saved (hand-made) corrections."""
    folder = tmp_path / "reddish"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(1, 7):
        image, labels = other_kind(rng)
        path = folder / f"plant{i:03d}_rgb.png"
        Image.fromarray((image * 255 + 0.5).astype(np.uint8)).save(path)
        save_corrections(path, labels, set(np.unique(labels)) - {0}, {"model": "green"})
    return folder


def test_doctests_pass():
    assert doctest.testmod(finetune).failed == 0


def test_fine_tune_on_other_rosettes_improves_held_out_sbd(parent, corrected_folder, tmp_path, one_torch_thread):
    images = labelled_images(corrected_folder)
    held_names = choose_held_out([p.name for p in images], fraction=0.34)
    held = [p for p in images if p.name in held_names]
    train = [p for p in images if p.name not in held_names]
    assert len(held) == 2 and len(train) == 4
    model, info = load_checkpoint(parent)
    parent_bytes = parent.read_bytes()
    out_dir = tmp_path / finetune.CHECKPOINTS_DIR_NAME
    events = []
    result = fine_tune(
        model, info, new_checkpoint_path(out_dir), train, held,
        settings=FineTuneSettings(iterations=200, val_every=50, lr=3e-3), on_event=events.append,
    )
    validations = [e for e in events if e.kind == "validation"]
    assert [e.iteration for e in validations] == [0, 50, 100, 150, 200]
    assert validations[0].metrics == result.baseline
    assert result.metrics["sbd"] == max(e.metrics["sbd"] for e in validations[1:])

    # Scored again from the files: the new checkpoint segments the held-out photos better.
    parent_model, _ = load_checkpoint(parent)
    tuned, tuned_info = load_checkpoint(result.path)
    rng = np.random.default_rng(1)
    truth = [other_kind(rng) for _ in range(6)]
    held_truth = [truth[int(p.name[5:8]) - 1] for p in held]

    def held_out_sbd(net):
        return np.mean([symmetric_best_dice(segment_image(net, image).labels, labels) for image, labels in held_truth])

    assert held_out_sbd(tuned) > held_out_sbd(parent_model) + 0.05
    meta = tuned_info.meta
    assert meta["parent"] == "green" and meta["baseline_metrics"] == result.baseline
    assert meta["data"] == str(corrected_folder)
    assert meta["data_summary"]["held_out_images"] == [p.name[:8] for p in held]
    assert meta["metrics"]["sbd"] == pytest.approx(result.metrics["sbd"])
    assert parent.read_bytes() == parent_bytes  # the parent is never written
    assert not resume_path(result.path).exists()
    listed, broken = list_checkpoints(out_dir)
    assert [c.path for c in listed] == [result.path] and broken == []


def test_stopping_mid_run_keeps_a_loadable_checkpoint(parent, corrected_folder, tmp_path, one_torch_thread):
    images = labelled_images(corrected_folder)
    model, info = load_checkpoint(parent)
    token = CancelToken()

    def stop_at_60(event):
        if event.kind == "iteration" and event.iteration == 60:
            token.set()

    out = tmp_path / "tuned.safetensors"
    with pytest.raises(Cancelled, match="stopped by the user"):
        fine_tune(model, info, out, images[:4], images[4:], on_event=stop_at_60, cancel=token,
                  settings=FineTuneSettings(iterations=500, val_every=25, lr=3e-3))
    _, saved = load_checkpoint(out)
    assert saved.meta["parent"] == "green" and saved.meta["metrics"]["iteration"] in (25, 50)
    assert not resume_path(out).exists()


def test_a_broken_checkpoint_is_listed_apart_and_training_states_are_skipped(tmp_path, tiny_model):
    save_checkpoint(tmp_path / "b.safetensors", tiny_model, {"created": "2026-01-02T00:00:00+00:00"})
    save_checkpoint(tmp_path / "a.safetensors", tiny_model, {"created": "2026-03-04T00:00:00+00:00"})
    (tmp_path / "a.resume.safetensors").write_bytes(b"state")
    (tmp_path / "c.safetensors").write_bytes(b"\x80\x04 pickle")
    (tmp_path / ".d.safetensors.partial").write_bytes(b"half a checkpoint of a killed run")
    found, broken = list_checkpoints(tmp_path)
    assert [info.name for info in found] == ["b", "a"]  # oldest first
    assert len(broken) == 1 and str(broken[0]).startswith("c.safetensors: this is a pickle")
    assert list_checkpoints(tmp_path / "none") == ([], [])


def test_new_checkpoint_names_are_dated_and_never_reused(tmp_path):
    now = datetime(2026, 5, 17, 9, 30, 5)
    first = new_checkpoint_path(tmp_path, now)
    assert first.name == "ris-finetune-20260517-093005.safetensors"
    first.write_bytes(b"")
    assert new_checkpoint_path(tmp_path, now).name == "ris-finetune-20260517-093005-2.safetensors"


def test_labelled_images_are_those_with_a_label_png(corrected_folder, tmp_path):
    (corrected_folder / "plant002_label.png").unlink()
    names = [p.name for p in labelled_images(corrected_folder)]
    assert names == [f"plant{i:03d}_rgb.png" for i in (1, 3, 4, 5, 6)]
    assert labelled_images(corrected_folder, tmp_path) == []  # corrections saved elsewhere: none there


@pytest.mark.parametrize(
    ("train", "held", "message"),
    [
        ([0, 1], [], "hold out at least one image"),
        ([0, 1], [1], "both trained on and held out: plant002_rgb.png"),
        ([], [0], "nothing to train on"),
    ],
)
def test_bad_splits_are_refused(corrected_folder, tiny_model, tmp_path, train, held, message):
    images = labelled_images(corrected_folder)
    info = load_checkpoint_info_of(tiny_model, tmp_path)
    with pytest.raises(ConfigError, match=message):
        fine_tune(tiny_model, info, tmp_path / "x.safetensors", [images[i] for i in train], [images[i] for i in held])


def load_checkpoint_info_of(model, tmp_path):
    save_checkpoint(tmp_path / "parent.safetensors", model)
    return load_checkpoint(tmp_path / "parent.safetensors")[1]


def test_an_image_without_labels_is_named(corrected_folder, tiny_model, tmp_path):
    images = labelled_images(corrected_folder)
    (corrected_folder / "plant001_label.png").unlink()
    info = load_checkpoint_info_of(tiny_model, tmp_path)
    with pytest.raises(LabelFormatError, match="plant001_label.png: no saved labels"):
        fine_tune(tiny_model, info, tmp_path / "x.safetensors", images[:2], images[2:3])


def test_an_unwritable_checkpoints_folder_is_reported(corrected_folder, tiny_model, tmp_path, one_torch_thread):
    images = labelled_images(corrected_folder)
    info = load_checkpoint_info_of(tiny_model, tmp_path)
    (tmp_path / "taken").write_text("a file where the folder should be")
    with pytest.raises(LeafcountError, match="taken: cannot create the checkpoints folder"):
        fine_tune(tiny_model, info, tmp_path / "taken" / "x.safetensors", images[:1], images[1:2])


@pytest.mark.parametrize(("field", "value"), [("iterations", 0), ("minutes", -1.0), ("val_every", 0), ("lr", 0.0)])
def test_bad_settings_are_refused(field, value):
    with pytest.raises(ConfigError, match=f"{field} must be > 0"):
        FineTuneSettings(**{field: value})


def test_labels_saved_at_a_photo_s_own_size_train_at_the_size_the_app_works_at(tmp_path, monkeypatch):
    # leafcount segment and the app save labels at the photo's size; a photo above the
    # working size (the limit lowered so a small one is) is read reduced, its labels with it.
    from leafcount.inference import pipeline

    monkeypatch.setattr(pipeline, "SEGMENT_MAX_PIXELS", 2_000)
    image, labels = make_rosette(np.random.default_rng(4), (60, 64))
    path = tmp_path / "plant_rgb.png"
    Image.fromarray((image * 255).astype(np.uint8)).save(path)
    save_corrections(path, labels, (), {"model": "green"})
    [pair] = load_training_pairs([path], (30, 32))
    assert pair.labels.shape == (30, 32) and set(np.unique(pair.labels)) == set(np.unique(labels))
    working = pipeline.read_working_photo(path).pixels
    assert working.shape[:2] == (30, 32)  # read at half size, as the app shows it
    np.testing.assert_array_equal(pair.image, fit_pair("plant", working, pair.labels, (30, 32)).image)
