"""--metadata for segment and report: the experiment's columns in every per-image table."""

from __future__ import annotations

import pandas as pd
import pytest

from leafcount.cli import main
from leafcount.data.synth import write_synth_folder
from leafcount.experiment import MetadataJoin

SEGMENT = ["--stop-threshold", "0", "--mask-threshold", "0", "--max-steps", "2", "--assignment", "argmax"]


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    write_synth_folder(folder, 3, seed=2, shape=(60, 64))
    for label in folder.glob("*_label.png"):
        label.unlink()
    return folder


def write_csv(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def warnings(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]


def test_segment_joins_the_metadata_and_names_plants_missing_from_either_side(photos, tmp_path, model_path, capsys):
    table = write_csv(tmp_path / "plants.csv", "plant,genotype,treatment\nplant001,Col-0,dry\nplant002,ler,wet\n"
                                               "plant099,Col-0,wet\n")
    out = tmp_path / "out"
    assert main(["-q", "segment", str(photos), "--out", str(out), "--model", str(model_path), "--workers", "1",
                 "--tray", "off", "--metadata", str(table), *SEGMENT]) == 0
    counts = pd.read_csv(out / "counts.csv", keep_default_na=False)
    assert list(counts.columns[-2:]) == ["genotype", "treatment"]
    assert dict(zip(counts["image"], counts["genotype"])) == {"plant001_rgb.png": "Col-0", "plant002_rgb.png": "ler",
                                                              "plant003_rgb.png": ""}
    assert warnings(capsys) == [
        "warning: plants.csv: no row for plant plant003; their metadata cells are left empty",
        "warning: plants.csv: plant plant099 not in the images; those rows are unused",
    ]


def test_report_joins_the_metadata_into_counts_plants_and_leaves(photos, tmp_path, model_path, capsys):
    out = tmp_path / "out"
    assert main(["-q", "segment", str(photos), "--out", str(out), "--model", str(model_path), "--workers", "1",
                 "--tray", "off", *SEGMENT]) == 0
    table = write_csv(tmp_path / "plants.csv", "image,genotype\nplant001_rgb.png,Col-0\nplant002_rgb.png,ler\n"
                                               "plant003_rgb.png,Col-0\n")
    capsys.readouterr()
    assert main(["-q", "report", "--labels", str(out), "--out", str(tmp_path / "report"),
                 "--metadata", str(table)]) == 0
    assert warnings(capsys) == []
    for name in ("counts.csv", "plants.csv", "leaves.csv"):
        written = pd.read_csv(tmp_path / "report" / name)
        assert written.columns[-1] == "genotype", name
        assert set(written.groupby("image")["genotype"].first().items()) == {
            ("plant001", "Col-0"), ("plant002", "ler"), ("plant003", "Col-0")}, name


def test_segment_and_report_write_counts_csv_in_one_schema(photos, tmp_path, model_path):
    out = tmp_path / "out"
    assert main(["-q", "segment", str(photos), "--out", str(out), "--model", str(model_path), "--workers", "1",
                 "--tray", "off", *SEGMENT]) == 0
    assert main(["-q", "report", "--labels", str(out), "--out", str(tmp_path / "report")]) == 0
    by_segment = pd.read_csv(out / "counts.csv", keep_default_na=False)
    by_report = pd.read_csv(tmp_path / "report" / "counts.csv", keep_default_na=False)
    assert list(by_segment.columns) == list(by_report.columns)
    assert list(by_segment["leaf_count"]) == list(by_report["leaf_count"])
    assert list(by_segment["source"]) == list(by_report["source"]) == ["model"] * 3


def test_a_tray_s_plants_are_keyed_by_position_or_by_tray_and_position(tmp_path):
    table = pd.DataFrame({"image": ["tray1.jpg", "tray1.jpg"], "plant": ["A1", "B3"], "leaf_count": [4, 5]})
    by_position = MetadataJoin.read(write_csv(tmp_path / "p.csv", "position,genotype\nA1,Col-0\nB3,ler\n"))
    assert list(by_position(table)["genotype"]) == ["Col-0", "ler"]
    by_plant = MetadataJoin.read(write_csv(tmp_path / "q.csv", "plant,genotype\ntray1_B3,ler\n"))
    assert list(by_plant(table)["genotype"]) == ["", "ler"]
    assert by_plant.mismatches(by_plant.keys(table)) == [
        "q.csv: no row for plant tray1_A1; their metadata cells are left empty"]


def test_a_metadata_table_without_a_key_column_stops_before_any_work(photos, tmp_path, model_path, capsys):
    table = write_csv(tmp_path / "plants.csv", "genotype,treatment\nCol-0,dry\n")
    code = main(["-q", "segment", str(photos), "--out", str(tmp_path / "out"), "--model", str(model_path),
                 "--metadata", str(table)])
    assert code == 2 and not (tmp_path / "out").exists()
    assert "plants.csv: needs a column named plant or position or image" in capsys.readouterr().err


def test_a_metadata_column_named_like_a_count_column_is_refused(tmp_path):
    from leafcount.errors import ConfigError

    with pytest.raises(ConfigError, match="column leaf_count would overwrite a column leafcount writes"):
        MetadataJoin.read(write_csv(tmp_path / "plants.csv", "plant,leaf_count\nplant001,3\n"))
