"""The app's timeline data: which folders hold a series, and one plant's dates linked."""

from __future__ import annotations

import numpy as np

from leafcount.data.synth import make_growing_rosette
from leafcount.series.export import export_series
from leafcount.series.identity import identity_score
from leafcount.series.timeline import THUMBNAIL_SIDE, plant_timeline, series_plants


def test_a_plant_timeline_links_the_saved_labels_and_skips_unsaved_dates(tmp_path, write_series):
    series = make_growing_rosette(np.random.default_rng(5), 4, (96, 100), n_leaves=7, first_leaves=4)
    write_series(tmp_path, "plantA", series)
    (tmp_path / "plantA_2026-03-03_label.png").unlink()  # the third date was never segmented
    write_series(tmp_path, "plantB", series[:1])  # one date only: no series

    plants = series_plants(tmp_path)
    assert list(plants) == ["plantA"] and [i.time.day for i in plants["plantA"]] == [1, 2, 3, 4]
    timeline = plant_timeline("plantA", plants["plantA"])
    assert [d.has_labels for d in timeline.dates] == [True, True, False, True]
    assert timeline.dates[0].photo.shape == (96, 100, 3) and max(96, 100) <= THUMBNAIL_SIDE
    truth = [t for day, (_, t) in enumerate(series) if day != 2]
    tracked = [d.labels for d in timeline.dates if d.has_labels]
    assert identity_score(truth, tracked).kept_fraction >= 0.9  # the second date is linked to the fourth
    track = int(np.bincount(tracked[0][truth[0] == 1]).argmax())
    assert timeline.areas[track][0] == (truth[0] == 1).sum() and 2 not in timeline.areas[track]


def test_a_folder_without_dates_is_no_series(tmp_path, write_series):
    assert series_plants(tmp_path) == {}
    (tmp_path / "plant_rgb.png").write_bytes(b"")
    assert series_plants(tmp_path) == {}


def test_the_export_tracks_the_saved_dates_only(tmp_path, write_series):
    series = make_growing_rosette(np.random.default_rng(6), 3, (80, 80), n_leaves=6)
    write_series(tmp_path / "photos", "plantA", series)
    (tmp_path / "photos" / "plantA_2026-03-02_label.png").unlink()
    summary = export_series(tmp_path / "photos", tmp_path / "report")
    assert summary.n_images == 2 and (tmp_path / "report" / "time-series" / "growth.csv").is_file()
    assert export_series(tmp_path / "report", tmp_path / "again") is None  # no photos of a series there
