"""``leafcount track`` end to end on synthetic series: identities, new and vanished leaves,
corrections, trays, metadata and the tables' columns."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from leafcount.cli import main
from leafcount.io.corrections import read_sidecar, save_corrections
from leafcount.data.cvppp import read_labels, write_labels
from leafcount.data.synth import make_growing_rosette
from leafcount.errors import ConfigError
from leafcount.model.checkpoint import save_checkpoint
from leafcount.model.config import ModelConfig
from leafcount.model.ris import build_ris
from leafcount.analysis.plant_boxes import PlantBox, plants_to_meta
from leafcount.series.identity import IdentityScore, identity_score, track_ids_of_truth
from leafcount.series.pipeline import track_series
from leafcount.series.sources import saved_correction
from leafcount.series.naming import read_series

DATES = [f"2026-03-{day:02d}" for day in range(1, 5)]


def _rosette_series(seed: int, dates: int = 4, shape: tuple[int, int] = (180, 190), **kwargs) -> list:
    """A seeded growing rosette (photo, truth labels) per date."""
    return make_growing_rosette(np.random.default_rng(seed), dates, shape, **kwargs)


def _ids(labels: np.ndarray) -> set[int]:
    return set(np.unique(labels[labels > 0]).tolist())


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _header(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as f:
        return next(csv.reader(f))


def _tracked_id(tracked: np.ndarray, truth: np.ndarray, leaf: int) -> int:
    """The label value the tracker gave most of the truth leaf's pixels."""
    values = tracked[truth == leaf]
    return int(np.bincount(values).argmax())


def test_each_leaf_keeps_its_label_value_on_every_date(tmp_path, write_series):
    score = IdentityScore(0, 0)
    growing = {plant: _rosette_series(seed, n_leaves=12, first_leaves=8, max_turn_deg=14.0, max_shift=8.0)
               for seed, plant in enumerate(("plantA", "plantB", "plantC"))}
    for plant, series in growing.items():
        write_series(tmp_path / "photos", plant, series)
    summary = track_series([tmp_path / "photos"], tmp_path / "out")
    assert summary.n_plants == 3 and len(summary.corrected) == 12
    for plant, series in growing.items():
        tracked = [read_labels(tmp_path / "out" / f"{plant}_{date}_label.png") for date in DATES]
        for (_, truth), labels in zip(series, tracked):
            ids = track_ids_of_truth(truth, labels)
            assert len(set(ids.values())) == len(ids)  # distinct leaves, distinct ids
        score += identity_score([truth for _, truth in series], tracked)
    assert score.pairs > 60 and score.kept_fraction >= 0.9


def test_a_leaf_appearing_mid_series_gets_a_new_id_and_a_vanished_leaf_ends_its_track(tmp_path, write_series):
    series = _rosette_series(3, n_leaves=9, first_leaves=5)
    truth_ids = [_ids(truth) for _, truth in series]
    newcomer = min(truth_ids[2] - truth_ids[1])  # the synthetic plant grows it between the second and third date
    assert newcomer not in truth_ids[0]
    oldest = 1  # ... and loses its oldest leaf on the third date: the newcomer may not take its id
    series = [(photo, np.where(truth == oldest, 0, truth) if day >= 2 else truth)
              for day, (photo, truth) in enumerate(series)]
    write_series(tmp_path / "photos", "plantA", series)
    track_series([tmp_path / "photos"], tmp_path / "out")

    tracked = [read_labels(tmp_path / "out" / f"plantA_{date}_label.png") for date in DATES]
    new_id = _tracked_id(tracked[2], series[2][1], newcomer)
    assert new_id not in np.unique(tracked[0]) and new_id not in np.unique(tracked[1])
    assert _tracked_id(tracked[3], series[3][1], newcomer) == new_id
    ended = _tracked_id(tracked[1], series[1][1], oldest)
    assert ended not in np.unique(tracked[2]) and ended not in np.unique(tracked[3])

    rows = _rows(tmp_path / "out" / "tracks.csv")
    assert {r["first_seen"] for r in rows if r["leaf_id"] == str(new_id)} == {DATES[2]}
    assert [r["time"] for r in rows if r["leaf_id"] == str(ended)] == DATES[:2]
    growth = _rows(tmp_path / "out" / "growth.csv")
    appeared = [len(_ids(b) - _ids(a)) for (_, a), (_, b) in zip(series, series[1:])]
    assert [r["new_leaves"] for r in growth] == ["", *map(str, appeared)] and appeared[1] >= 1


def test_the_tables_have_the_issues_columns_and_growth_rates(tmp_path, write_series):
    write_series(tmp_path / "photos", "plantA", _rosette_series(4, dates=3))
    (tmp_path / "plants.csv").write_text("plant,genotype,treatment\nplantA,Col-0,mock\n", encoding="utf-8")
    track_series([tmp_path / "photos"], tmp_path / "out", metadata_path=tmp_path / "plants.csv", px_per_mm=4.0)
    assert _header(tmp_path / "out" / "tracks.csv") == [
        "plant", "position", "time", "image", "leaf_id", "area_px", "area_mm2", "perimeter_px", "perimeter_mm",
        "centroid_row", "centroid_col", "angle_deg", "first_seen", "is_manual", "genotype", "treatment"]
    assert _header(tmp_path / "out" / "growth.csv") == [
        "plant", "position", "time", "days", "image", "leaf_count", "rosette_area_px", "rosette_area_mm2",
        "convex_hull_area_px", "convex_hull_area_mm2", "rosette_diameter_px", "rosette_diameter_mm", "new_leaves",
        "relative_growth_rate", "genotype", "treatment"]
    growth = _rows(tmp_path / "out" / "growth.csv")
    first, second = growth[0], growth[1]
    assert first["relative_growth_rate"] == "" and first["image"] == "plantA_2026-03-01.png"
    expected = math.log(int(second["rosette_area_px"]) / int(first["rosette_area_px"])) / 1.0
    assert float(second["relative_growth_rate"]) == pytest.approx(expected)
    assert float(first["rosette_area_mm2"]) == pytest.approx(int(first["rosette_area_px"]) / 16)
    assert {r["genotype"] for r in _rows(tmp_path / "out" / "tracks.csv")} == {"Col-0"}


@pytest.fixture
def tiny_model_path(tmp_path) -> Path:
    torch.manual_seed(0)
    path = tmp_path / "models" / "tiny.safetensors"
    path.parent.mkdir()
    save_checkpoint(path, build_ris(ModelConfig.tiny()), meta={"segment": {"max_steps": 3}})
    return path


def test_a_saved_correction_wins_over_the_model_and_keeps_its_hand_edits(tmp_path, write_series, tiny_model_path,
                                                                          one_torch_thread):
    series = _rosette_series(5, dates=3, shape=(96, 100), n_leaves=5)
    paths = write_series(tmp_path / "photos", "plantA", series, labels=False)
    out = tmp_path / "out"
    corrected = series[1][1]
    save_corrections(paths[1], corrected, manual_ids={2}, meta={"model": "by hand"}, out_dir=out)

    summary = track_series([tmp_path / "photos"], out, model_path=tiny_model_path, workers=1)
    assert summary.corrected == ("plantA_2026-03-02.png",)
    tracked = read_labels(out / "plantA_2026-03-02_label.png")
    assert len(np.unique(tracked[tracked > 0])) == len(np.unique(corrected[corrected > 0]))
    assert np.array_equal(tracked > 0, corrected > 0)
    sidecar = read_sidecar(paths[1], out)
    assert sidecar.manual_ids == {_tracked_id(tracked, corrected, 2)}  # the hand edit follows the leaf's new id
    for day in (0, 2):
        assert read_sidecar(paths[day], out).meta["model"] == "tiny"  # the others came from the model
    assert not (out / ".leafcount-track").exists()

    again = track_series([tmp_path / "photos"], out, model_path=tiny_model_path, workers=1)
    assert again.corrected == ("plantA_2026-03-02.png",)  # still the user's, the model's are redone


def test_date_folders_of_same_named_photos_get_a_label_file_each(write_photo, tmp_path, tiny_model_path, one_torch_thread):
    for day, (photo, _) in enumerate(_rosette_series(14, dates=2, shape=(64, 64), n_leaves=4), start=1):
        (tmp_path / "photos" / f"2026-03-0{day}").mkdir(parents=True)
        size = 64 - 4 * day  # sizes differ: labels meant for the other date would not fit
        write_photo(tmp_path / "photos" / f"2026-03-0{day}" / "plantA.png", photo[:size, :size])
    summary = track_series([tmp_path / "photos"], tmp_path / "out", model_path=tiny_model_path, workers=1)
    assert summary.left_out == () and summary.n_images == 2
    for day in (1, 2):
        sidecar = read_sidecar(tmp_path / "out" / f"plantA_2026-03-0{day}.png", tmp_path / "out")
        assert sidecar.meta["track"]["photo"].endswith(f"2026-03-0{day}/plantA.png")


def test_track_output_edited_afterwards_counts_as_a_correction(tmp_path, write_series):
    write_series(tmp_path / "photos", "plantA", _rosette_series(6, dates=2))
    out = tmp_path / "out"
    track_series([tmp_path / "photos"], out)
    image = read_series([tmp_path / "photos"]).images[1]
    label_path = out / "plantA_2026-03-02_label.png"
    sidecar = json.loads(label_path.with_suffix(".json").read_text())
    sidecar["meta"]["track"]["source"] = "model"  # as if the model had made it
    label_path.with_suffix(".json").write_text(json.dumps(sidecar))
    for beside in (tmp_path / "photos").glob("*_label.png"):
        beside.unlink()
    assert saved_correction(image, out) is None  # unedited model output is segmented again

    labels = read_labels(label_path)
    labels[labels == labels.max()] = 0  # the user deletes a leaf in the app, which keeps the sidecar's meta
    write_labels(label_path, labels)
    assert saved_correction(image, out).corrected


def test_each_tray_position_is_its_own_plant(write_photo, tmp_path):
    left, right = _rosette_series(7, dates=3, shape=(120, 120)), _rosette_series(8, dates=3, shape=(120, 120))
    photos = tmp_path / "photos"
    photos.mkdir()
    boxes = [PlantBox(0, 0, 0, 0, 0, 120, 120), PlantBox(1, 0, 1, 0, 120, 120, 240)]
    for day, ((photo_a, truth_a), (photo_b, truth_b)) in enumerate(zip(left, right), start=1):
        path = write_photo(photos / f"tray1_2026-03-0{day}.png", np.concatenate([photo_a, photo_b], axis=1))
        labels = np.concatenate([truth_a, np.where(truth_b > 0, truth_b + 100, 0)], axis=1)
        save_corrections(path, labels, (), {"plants": plants_to_meta(boxes)})
    track_series([photos], tmp_path / "out")

    rows = _rows(tmp_path / "out" / "growth.csv")
    assert [(r["plant"], r["position"]) for r in rows] == [("tray1_A1", "A1")] * 3 + [("tray1_A2", "A2")] * 3
    tracks = _rows(tmp_path / "out" / "tracks.csv")
    ids = {position: {r["leaf_id"] for r in tracks if r["position"] == position} for position in ("A1", "A2")}
    assert ids["A1"] and ids["A2"] and not ids["A1"] & ids["A2"]  # one label space per tray image
    day1, day3 = (read_labels(tmp_path / "out" / f"tray1_2026-03-0{d}_label.png") for d in (1, 3))
    for leaf in np.unique(right[0][1][right[0][1] > 0]):
        truth_1, truth_3 = right[0][1] == leaf, right[2][1] == leaf
        if truth_3.any():
            assert np.bincount(day1[:, 120:][truth_1]).argmax() == np.bincount(day3[:, 120:][truth_3]).argmax()


def test_metadata_is_joined_and_mismatches_are_named(tmp_path, write_series):
    write_series(tmp_path / "photos", "plantA", _rosette_series(9, dates=2))
    write_series(tmp_path / "photos", "plantB", _rosette_series(10, dates=2))
    table = tmp_path / "plants.csv"
    table.write_text("plant,genotype\nplantA,Col-0\nplantZ,ler\n", encoding="utf-8")
    summary = track_series([tmp_path / "photos"], tmp_path / "out", metadata_path=table)
    assert summary.warnings == ("plants.csv: no row for plant plantB; their metadata cells are left empty",
                                "plants.csv: plant plantZ not in the images; those rows are unused")
    genotypes = {(r["plant"], r["genotype"]) for r in _rows(tmp_path / "out" / "growth.csv")}
    assert genotypes == {("plantA", "Col-0"), ("plantB", "")}
    with pytest.raises(ConfigError, match="--group-by 'treatment' is no column"):
        track_series([tmp_path / "photos"], tmp_path / "out", metadata_path=table, group_by="treatment")


def test_the_command_names_each_bad_name_once_and_writes_the_report(write_photo, tmp_path, write_series, capsys):
    write_series(tmp_path / "photos", "plantA", _rosette_series(11, dates=2))
    write_photo(tmp_path / "photos" / "IMG_0001.png", np.zeros((20, 20, 3)))
    code = main(["-q", "track", str(tmp_path / "photos"), "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    warnings = [line for line in captured.err.splitlines() if line.startswith("warning:")]
    assert code == 1
    assert len(warnings) == 1 and warnings[0].startswith("warning: IMG_0001.png: no time in the name")
    assert "of 1 plant(s) in 2 image(s)" in captured.out
    page = (tmp_path / "out" / "growth.html").read_text(encoding="utf-8")
    assert page.count("<img") >= 4  # overview, the plant's curves, its two overlays
    assert "IMG_0001.png" in page
