import doctest

import pytest

import leafcount.analysis.scale
from leafcount.analysis.scale import (
    FOLDER_SETTINGS,
    px_per_mm_from_line,
    read_folder_scale,
    write_folder_scale,
)
from leafcount.errors import ConfigError


def test_doctests():
    assert doctest.testmod(leafcount.analysis.scale).failed == 0


def test_line_to_scale_and_errors():
    assert px_per_mm_from_line((10, 10), (10, 110), 20) == 5.0
    with pytest.raises(ConfigError, match="ruler length must be > 0"):
        px_per_mm_from_line((0, 0), (1, 1), 0)
    with pytest.raises(ConfigError, match="shorter than one pixel"):
        px_per_mm_from_line((3, 3), (3, 3.5), 10)


def test_round_trip_keeps_other_settings(tmp_path):
    assert read_folder_scale(tmp_path) is None
    (tmp_path / FOLDER_SETTINGS).write_text('{"note": "tray 4"}')
    write_folder_scale(tmp_path, 12.5, source="ruler line 250 px over 20 mm")
    assert read_folder_scale(tmp_path) == 12.5
    assert '"note": "tray 4"' in (tmp_path / FOLDER_SETTINGS).read_text()
    with pytest.raises(ConfigError, match="px_per_mm must be > 0"):
        write_folder_scale(tmp_path, 0)


def test_bad_settings_file(tmp_path):
    (tmp_path / FOLDER_SETTINGS).write_text("{broken")
    with pytest.raises(ConfigError, match="leafcount-folder.json: cannot read"):
        read_folder_scale(tmp_path)
    (tmp_path / FOLDER_SETTINGS).write_text('{"px_per_mm": -2}')
    with pytest.raises(ConfigError, match="positive number"):
        read_folder_scale(tmp_path)
