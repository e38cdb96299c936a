"""Plant and time from names, date folders and EXIF; what does not fit is named, never guessed."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest
from PIL import Image

from leafcount.errors import ConfigError
from leafcount.series.naming import parse_time, read_series


def _photo(path, exif_time: str | None = None):
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8))
    if exif_time is None:
        img.save(path)
    else:
        exif = Image.Exif()
        exif.get_ifd(0x8769)[0x9003] = exif_time  # Exif IFD, DateTimeOriginal
        img.save(path, exif=exif)
    return path


def test_names_give_plant_and_time(tmp_path):
    for name in ("plant040_2026-03-01.png", "plant040_2026-03-02T14-30.png", "tray1_2026-03-01_14-30-05.png",
                 "plant040_2026-03-03_rgb.png"):
        _photo(tmp_path / name)
    listing = read_series([tmp_path])
    found = [(image.plant, image.time, image.name) for image in listing.images]
    assert found == [
        ("plant040", datetime(2026, 3, 1), "plant040_2026-03-01"),
        ("plant040", datetime(2026, 3, 2, 14, 30), "plant040_2026-03-02T14-30"),
        ("plant040", datetime(2026, 3, 3), "plant040_2026-03-03"),
        ("tray1", datetime(2026, 3, 1, 14, 30, 5), "tray1_2026-03-01_14-30-05"),
    ]
    assert listing.left_out == ()


def test_date_folders_give_the_time_and_unique_names(tmp_path):
    _photo(tmp_path / "2026-03-01" / "plant040.png")
    _photo(tmp_path / "2026-03-02" / "plant040.png")
    _photo(tmp_path / "out" / "plant040.png")  # not a date: an output folder inside the input, ignored
    listing = read_series([tmp_path])
    assert [(i.plant, i.time.day, i.name) for i in listing.images] == [
        ("plant040", 1, "plant040_2026-03-01"), ("plant040", 2, "plant040_2026-03-02")]


def test_exif_time_when_the_name_has_none(tmp_path):
    _photo(tmp_path / "plant7.jpg", exif_time="2026:03:04 09:15:00")
    listing = read_series([tmp_path / "plant7.jpg"])
    assert [(i.plant, i.time, i.name) for i in listing.images] == [
        ("plant7", datetime(2026, 3, 4, 9, 15), "plant7_2026-03-04T09-15")]


def test_names_without_a_time_are_named_once_each_and_left_out(tmp_path):
    _photo(tmp_path / "plantA_2026-03-01.png")
    _photo(tmp_path / "IMG_0001.png")
    _photo(tmp_path / "plantA_2026-13-01.png")  # month 13
    listing = read_series([tmp_path])
    assert [i.path.name for i in listing.images] == ["plantA_2026-03-01.png"]
    assert len(listing.left_out) == 2
    no_time = next(m for m in listing.left_out if m.startswith("IMG_0001.png:"))
    assert "no time in the name" in no_time and "left out" in no_time
    assert any(m.startswith("plantA_2026-13-01.png:") and "not a valid date" in m for m in listing.left_out)


def test_the_same_plant_and_time_twice_is_named(tmp_path):
    _photo(tmp_path / "plantA_2026-03-01.png")
    _photo(tmp_path / "plantA_2026-03-01.jpg")
    listing = read_series([tmp_path])
    assert len(listing.images) == 1
    assert len(listing.left_out) == 1 and "the same plant and time" in listing.left_out[0]


def test_pattern_and_time_format(tmp_path):
    _photo(tmp_path / "exp3-pot12-010326.png")
    _photo(tmp_path / "calibration.png")
    listing = read_series([tmp_path], pattern=r"exp3-(?P<plant>pot\d+)-(?P<time>\d{6})", time_format="%d%m%y")
    assert [(i.plant, i.time) for i in listing.images] == [("pot12", datetime(2026, 3, 1))]
    assert listing.left_out == ("calibration.png: the name does not fit --pattern "
                                "'exp3-(?P<plant>pot\\\\d+)-(?P<time>\\\\d{6})'; left out of the series",)


def test_a_pattern_without_a_plant_group_is_refused():
    with pytest.raises(ConfigError, match="plant"):
        read_series([], pattern=r"(?P<time>\d+)")


def test_iso_time_forms():
    assert parse_time("2026-03-01") == datetime(2026, 3, 1)
    assert parse_time("2026-03-01T14-30") == datetime(2026, 3, 1, 14, 30)
    assert parse_time("2026-03-01_14-30-00") == datetime(2026, 3, 1, 14, 30)
    with pytest.raises(ValueError, match="not an ISO date"):
        parse_time("March 1st")
