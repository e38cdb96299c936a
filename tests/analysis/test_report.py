"""Reports: counts, traits, CVPPP scores and the HTML page, checked against the core modules."""

from __future__ import annotations

import base64
import doctest
import io
import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from leafcount.analysis import report
from leafcount.analysis.counts import COUNT_COLUMNS, PLANT_COLUMNS
from leafcount.analysis.metrics import score_image, summarize
from leafcount.analysis.report import METRIC_COLUMNS, leaf_source, write_report
from leafcount.analysis.traits import LEAF_TRAIT_COLUMNS
from leafcount.cancel import CancelToken
from leafcount.data.cvppp import read_labels, write_labels
from leafcount.data.synth import write_synth_folder
from leafcount.errors import (
    Cancelled,
    ConfigError,
    EmptyFolderError,
    LabelFormatError,
    LeafcountError,
)
from leafcount.io.corrections import save_corrections

SHAPE = (64, 72)
N_PLANTS = 4


def _predict(truth: np.ndarray, index: int) -> np.ndarray:
    """A plausible imperfect prediction: merged, dropped, shifted and renumbered leaves."""
    pred = truth.copy()
    ids = np.unique(truth[truth > 0])
    if index % 4 == 0 and ids.size >= 2:
        pred[pred == ids[1]] = ids[0]  # two leaves merged
    elif index % 4 == 1:
        pred[pred == ids[-1]] = 0  # a leaf missed
    elif index % 4 == 2:
        pred = np.roll(pred, 3, axis=1)  # every leaf shifted
    pred[pred > 0] += 10 * (index + 1)  # ids with gaps, not 1..n
    return pred


@pytest.fixture
def folders(tmp_path: Path) -> dict[str, Path]:
    """A CVPPP folder (photos + truth) and a folder of predictions, some with sidecars."""
    cvppp, pred_dir = tmp_path / "cvppp", tmp_path / "pred"
    pred_dir.mkdir()
    image_paths = write_synth_folder(cvppp, N_PLANTS, seed=3, shape=SHAPE)
    for index, image_path in enumerate(image_paths):
        name = image_path.name[: -len("_rgb.png")]
        pred = _predict(read_labels(cvppp / f"{name}_label.png"), index)
        ids = np.unique(pred[pred > 0]).tolist()
        if index == 0:
            write_labels(pred_dir / f"{name}_label.png", pred)  # no sidecar
        else:
            manual = {1: [], 2: ids[:1], 3: ids}[index]
            meta = {"model": "ris-test", "stop_threshold": 0.4, "crf": index == 2}
            save_corrections(image_path, pred, manual, meta, out_dir=pred_dir)
    return {"cvppp": cvppp, "pred": pred_dir, "out": tmp_path / "report"}


class _ImageSources(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "img":
            self.sources.append(values["src"] or "")
        if tag in ("link", "script"):
            self.links.append(tag)


def _embedded_pngs(page: str) -> list[Image.Image]:
    parser = _ImageSources()
    parser.feed(page)
    assert parser.links == []  # self-contained: no stylesheet or script to fetch
    images = []
    for source in parser.sources:
        prefix = "data:image/png;base64,"
        assert source.startswith(prefix), source[:60]
        image = Image.open(io.BytesIO(base64.b64decode(source[len(prefix):], validate=True)))
        image.load()
        assert image.format == "PNG"
        images.append(image)
    return images


def test_doctests_pass():
    result = doctest.testmod(report)
    assert result.attempted >= 1 and result.failed == 0


def test_leaf_source_rules():
    assert leaf_source([], frozenset({1})) == "model"
    assert leaf_source(np.array([2, 5]), {5}) == "mixed"
    assert leaf_source([2, 5], {2, 5}) == "manual"


def test_counts_equal_the_distinct_labels_of_the_saved_pngs(folders):
    write_report(folders["pred"], folders["out"])
    counts = pd.read_csv(folders["out"] / "counts.csv")
    assert list(counts.columns) == list(COUNT_COLUMNS)
    for row in counts.itertuples():
        labels = np.asarray(Image.open(folders["pred"] / f"{row.image}_label.png"))
        assert row.leaf_count == np.count_nonzero(np.unique(labels))


def test_counts_source_and_sidecar_columns(folders):
    write_report(folders["pred"], folders["out"])
    counts = pd.read_csv(folders["out"] / "counts.csv", keep_default_na=False, dtype=str)
    rows = counts.set_index("image")
    assert rows["source"].tolist() == ["model", "model", "mixed", "manual"]
    # plant001 has no sidecar: model unknown, cells left blank.
    assert rows.loc["plant001", ["model", "stop_threshold", "crf"]].tolist() == ["", "", ""]
    assert rows.loc["plant003", ["model", "stop_threshold", "crf"]].tolist() == ["ris-test", "0.4", "True"]
    assert rows.loc["plant004", "crf"] == "False"


def test_leaves_and_plants_tables(folders):
    summary = write_report(folders["pred"], folders["out"], images_dir=folders["cvppp"])
    leaves = pd.read_csv(folders["out"] / "leaves.csv")
    plants = pd.read_csv(folders["out"] / "plants.csv")
    counts = pd.read_csv(folders["out"] / "counts.csv")
    assert list(leaves.columns) == ["image", *LEAF_TRAIT_COLUMNS]
    assert leaves.groupby("image").size().to_dict() == counts.set_index("image")["leaf_count"].to_dict()
    assert plants["leaf_count"].tolist() == counts["leaf_count"].tolist()
    # Photos given: colours measured; no scale: mm columns empty.
    assert leaves[["mean_r", "mean_g", "mean_b"]].notna().all().all()
    assert leaves["area_mm2"].isna().all()
    # Manual flags follow the sidecars: none, one leaf, all leaves.
    manual = leaves.groupby("image")["is_manual"].sum().to_dict()
    assert manual == {"plant001": 0, "plant002": 0, "plant003": 1, "plant004": counts["leaf_count"].iloc[3]}
    assert summary.missing_images == ()
    assert [path.name for path in summary.files] == ["counts.csv", "leaves.csv", "plants.csv"]


def test_traits_of_shapes_of_known_area_with_a_scale(tmp_path):
    labels = np.zeros((60, 80), dtype=np.int32)
    labels[5:25, 10:40] = 7  # 20 x 30 = 600 px
    labels[30:50, 50:60] = 2  # 20 x 10 = 200 px
    write_labels(tmp_path / "shapes_label.png", labels)
    write_report(tmp_path, tmp_path / "out", px_per_mm=4.0)
    leaves = pd.read_csv(tmp_path / "out" / "leaves.csv").set_index("leaf_id")
    assert leaves.loc[7, "area_px"] == 600 and leaves.loc[2, "area_px"] == 200
    assert leaves.loc[7, "area_mm2"] == pytest.approx(600 / 16)
    assert leaves.loc[2, "area_mm2"] == pytest.approx(200 / 16)
    assert leaves.loc[7, ["bbox_min_row", "bbox_min_col", "bbox_max_row", "bbox_max_col"]].tolist() == [5, 10, 25, 40]
    assert (leaves["image"] == "shapes").all()
    plant = pd.read_csv(tmp_path / "out" / "plants.csv").iloc[0]
    assert plant["rosette_area_px"] == 800
    assert plant["rosette_area_mm2"] == pytest.approx(50.0)


def test_metrics_equal_leafcount_metrics_on_the_same_files(folders):
    summary = write_report(folders["pred"], folders["out"], truth_dir=folders["cvppp"])
    expected = [
        score_image(read_labels(path), read_labels(folders["cvppp"] / path.name), path.name[: -len("_label.png")])
        for path in sorted(folders["pred"].glob("*_label.png"))
    ]
    expected_summary = summarize(expected)

    table = pd.read_csv(folders["out"] / "metrics.csv")
    assert list(table.columns) == list(METRIC_COLUMNS)
    assert table["image"].tolist() == [s.name for s in expected]
    for column in ("sbd", "fbd", "dic", "abs_dic", "count_pred", "count_true"):
        assert table[column].tolist() == pytest.approx([getattr(s, column) for s in expected])

    record = json.loads((folders["out"] / "metrics.json").read_text(encoding="utf-8"))
    assert record["n_images"] == N_PLANTS
    for key, (mean, std) in expected_summary.items():
        assert record["summary"][key]["mean"] == pytest.approx(mean)
        assert record["summary"][key]["std"] == pytest.approx(std)
    assert [row["sbd"] for row in record["images"]] == pytest.approx([s.sbd for s in expected])
    assert summary.metrics == expected_summary
    # The fixture's predictions are imperfect, so the scores are not trivially 1.
    assert 0 < expected_summary["sbd"][0] < 1 and expected_summary["abs_dic"][0] > 0


def test_html_report_embeds_plots_and_worst_thumbnails(folders):
    summary = write_report(
        folders["pred"], folders["out"], images_dir=folders["cvppp"], truth_dir=folders["cvppp"], n_worst=2
    )
    page_path = folders["out"] / "report.html"
    assert page_path in summary.files
    page = page_path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page
    images = _embedded_pngs(page)
    # Count scatter + SBD histogram, then a prediction and a truth overlay per worst image.
    assert len(images) == 2 + 2 * 2
    assert all(image.size[0] > 100 for image in images[:2])
    assert images[2].size == (SHAPE[1], SHAPE[0])  # small photos are not enlarged
    worst = sorted(summary.scores, key=lambda s: (s.sbd, s.name))[:2]
    order = [page.index(f'alt="{s.name} prediction"') for s in worst]
    assert order == sorted(order)
    for record in summary.scores:
        assert f"<td>{record.name}</td>" in page


def test_html_report_without_photos_has_only_the_plots(folders):
    write_report(folders["pred"], folders["out"], truth_dir=folders["cvppp"])
    page = (folders["out"] / "report.html").read_text(encoding="utf-8")
    assert len(_embedded_pngs(page)) == 2
    assert "no thumbnails" in page


def test_large_photos_give_thumbnails_of_fixed_width(tmp_path):
    write_synth_folder(tmp_path, 1, seed=0, shape=(300, 400))
    write_report(tmp_path, tmp_path / "out", images_dir=tmp_path, truth_dir=tmp_path)
    images = _embedded_pngs((tmp_path / "out" / "report.html").read_text(encoding="utf-8"))
    assert [image.size for image in images[2:]] == [(report.THUMBNAIL_WIDTH, 180)] * 2


def test_without_truth_no_metrics_are_written(folders):
    summary = write_report(folders["pred"], folders["out"])
    assert sorted(path.name for path in folders["out"].iterdir()) == ["counts.csv", "leaves.csv", "plants.csv"]
    assert summary.metrics is None and summary.scores == ()


def test_images_without_truth_are_left_out_of_the_scores(folders, tmp_path):
    truth = tmp_path / "truth"
    truth.mkdir()
    for name in ("plant002", "plant004"):
        (truth / f"{name}_label.png").write_bytes((folders["cvppp"] / f"{name}_label.png").read_bytes())
    summary = write_report(folders["pred"], folders["out"], truth_dir=truth)
    assert [s.name for s in summary.scores] == ["plant002", "plant004"]
    assert summary.missing_truth == ("plant001", "plant003")
    assert pd.read_csv(folders["out"] / "metrics.csv")["image"].tolist() == ["plant002", "plant004"]
    assert len(pd.read_csv(folders["out"] / "counts.csv")) == N_PLANTS


def test_missing_photos_are_reported_not_fatal(folders):
    (folders["cvppp"] / "plant003_rgb.png").unlink()
    summary = write_report(folders["pred"], folders["out"], images_dir=folders["cvppp"])
    assert summary.missing_images == ("plant003",)
    leaves = pd.read_csv(folders["out"] / "leaves.csv")
    assert leaves.loc[leaves["image"] == "plant003", "mean_g"].isna().all()
    assert leaves.loc[leaves["image"] != "plant003", "mean_g"].notna().all()


def test_progress_is_reported_per_image(folders):
    calls = []
    write_report(folders["pred"], folders["out"], on_progress=lambda done, total: calls.append((done, total)))
    assert calls == [(i, N_PLANTS) for i in range(1, N_PLANTS + 1)]


def test_cancel_between_images_writes_nothing(folders):
    token = CancelToken()
    calls = []

    def cancel_after_two(done: int, total: int) -> None:
        calls.append(done)
        if done == 2:
            token.set()

    with pytest.raises(Cancelled, match="stopped by the user"):
        write_report(
            folders["pred"], folders["out"], truth_dir=folders["cvppp"], on_progress=cancel_after_two, cancel=token
        )
    assert calls == [1, 2]
    assert not folders["out"].exists()


def test_cancel_after_the_last_image_writes_nothing(folders):
    token = CancelToken()
    with pytest.raises(Cancelled, match="stopped by the user"):
        write_report(folders["pred"], folders["out"], on_progress=lambda done, total: token.set(), cancel=token)
    assert not folders["out"].exists()


def test_rewriting_a_report_replaces_it(folders):
    write_report(folders["pred"], folders["out"])
    (folders["pred"] / "plant004_label.png").unlink()
    write_report(folders["pred"], folders["out"])
    assert len(pd.read_csv(folders["out"] / "counts.csv")) == N_PLANTS - 1
    assert not [path for path in folders["out"].iterdir() if path.name.endswith(".partial")]


def test_an_image_without_leaves_has_no_leaf_rows(tmp_path):
    write_labels(tmp_path / "bare_label.png", np.zeros((10, 12), dtype=np.int32))
    write_report(tmp_path, tmp_path / "out")
    assert pd.read_csv(tmp_path / "out" / "counts.csv")["leaf_count"].tolist() == [0]
    leaves = pd.read_csv(tmp_path / "out" / "leaves.csv")
    assert list(leaves.columns) == ["image", *LEAF_TRAIT_COLUMNS] and len(leaves) == 0


def test_missing_labels_folder_is_named(tmp_path):
    with pytest.raises(EmptyFolderError, match=r"nowhere: the label folder does not exist"):
        write_report(tmp_path / "nowhere", tmp_path / "out")


def test_folder_without_label_images_is_named(tmp_path):
    (tmp_path / "photo.png").write_bytes(b"")
    with pytest.raises(EmptyFolderError, match=rf"{tmp_path.name}: no \*_label.png label images"):
        write_report(tmp_path, tmp_path / "out")


def test_missing_images_and_truth_folders_are_named(folders, tmp_path):
    with pytest.raises(EmptyFolderError, match=r"photos: the image folder does not exist"):
        write_report(folders["pred"], folders["out"], images_dir=tmp_path / "photos")
    with pytest.raises(EmptyFolderError, match=r"gt: the ground-truth folder does not exist"):
        write_report(folders["pred"], folders["out"], truth_dir=tmp_path / "gt")


def test_truth_folder_without_matching_names(folders, tmp_path):
    truth = tmp_path / "other"
    truth.mkdir()
    write_labels(truth / "someone_label.png", np.ones((4, 4), dtype=np.int32))
    with pytest.raises(EmptyFolderError, match=r"other: no ground truth for any of the 4 label image\(s\)"):
        write_report(folders["pred"], folders["out"], truth_dir=truth)


def test_photo_of_another_size_is_an_error_naming_the_label_file(folders, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.new("RGB", (10, 10)).save(photos / "plant002_rgb.png")
    message = r"plant002_label.png: label image is 72 x 64 pixels but plant002_rgb.png is 10 x 10"
    with pytest.raises(LabelFormatError, match=message):
        write_report(folders["pred"], folders["out"], images_dir=photos)


def test_truth_of_another_size_is_an_error_naming_the_label_file(folders, tmp_path):
    truth = tmp_path / "truth"
    truth.mkdir()
    write_labels(truth / "plant001_label.png", np.ones((5, 6), dtype=np.int32))
    with pytest.raises(LabelFormatError, match=r"plant001_label.png: .* but its ground truth .* is 6 x 5"):
        write_report(folders["pred"], folders["out"], truth_dir=truth)


def test_a_broken_sidecar_costs_only_its_own_source_cells(folders, caplog):
    (folders["pred"] / "plant003_label.json").write_text("{not json", encoding="utf-8")
    summary = write_report(folders["pred"], folders["out"])
    assert summary.n_images == N_PLANTS
    assert len(summary.unreadable_sidecars) == 1
    assert summary.unreadable_sidecars[0].startswith("plant003_label.json: cannot read the corrections sidecar")
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        f"warning: {summary.unreadable_sidecars[0]}; its labels are reported without it"]
    counts = pd.read_csv(folders["out"] / "counts.csv", keep_default_na=False, dtype=str).set_index("image")
    labels = read_labels(folders["pred"] / "plant003_label.png")
    assert counts.loc["plant003", "leaf_count"] == str(np.count_nonzero(np.unique(labels)))
    assert counts.loc["plant003", ["source", "model", "stop_threshold", "crf"]].tolist() == ["", "", "", ""]
    assert counts["source"].tolist() == ["model", "model", "", "manual"]  # the others as before


def test_the_report_command_goes_on_past_a_broken_sidecar(folders):
    (folders["pred"] / "plant002_label.json").write_bytes(b"\x00garbage")
    done = subprocess.run(
        [sys.executable, "-m", "leafcount.cli", "report", "--labels", str(folders["pred"]), "--out", str(folders["out"]),
         "--quiet"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "plant002_label.json: cannot read the corrections sidecar" in done.stderr
    assert len(pd.read_csv(folders["out"] / "counts.csv")) == N_PLANTS


def test_bad_scale_and_bad_n_worst_are_rejected(folders):
    with pytest.raises(ConfigError, match="px_per_mm"):
        write_report(folders["pred"], folders["out"], px_per_mm=-2.0)
    with pytest.raises(ConfigError, match="n_worst: expected a number of images >= 0"):
        write_report(folders["pred"], folders["out"], n_worst=-1)


def test_unwritable_report_folder_is_named(folders, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the report folder should go", encoding="utf-8")
    with pytest.raises(LeafcountError, match="report: cannot create the report folder"):
        write_report(folders["pred"], blocker / "report")


def test_report_imports_no_pyplot():
    # Qt is kept out by the import-linter contract; pyplot (a submodule it cannot see) here.
    code = (
        "import sys, leafcount.analysis.report; "
        "bad = [m for m in sys.modules if m.startswith('matplotlib.pyplot')]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_tray_gives_one_row_per_plant(tmp_path):
    from leafcount.analysis.plant_boxes import PlantBox, plants_to_meta

    labels = np.zeros((40, 90), dtype=np.int32)
    labels[5:15, 5:15], labels[20:30, 5:12] = 1, 2  # plant A1: two leaves
    labels[5:25, 50:60] = 3  # plant A2: one leaf
    labels[36:40, 86:90] = 4  # a stray leaf in no box
    boxes = [PlantBox(0, 0, 0, 0, 0, 35, 40), PlantBox(1, 0, 1, 0, 45, 35, 80)]
    save_corrections(tmp_path / "tray.jpg", labels, {3}, {"model": "m", "plants": plants_to_meta(boxes)})
    labels_b = np.zeros((20, 20), dtype=np.int32)
    labels_b[2:8, 2:8] = 1
    save_corrections(tmp_path / "single.jpg", labels_b, (), {"model": "m"})
    write_report(tmp_path, tmp_path / "out", px_per_mm=2.0)

    counts = pd.read_csv(tmp_path / "out" / "counts.csv")
    assert list(counts.columns) == [COUNT_COLUMNS[0], *PLANT_COLUMNS, *COUNT_COLUMNS[1:]]
    assert counts["image"].tolist() == ["single", "tray", "tray"]
    tray = counts[counts["image"] == "tray"]
    assert tray["plant"].tolist() == ["A1", "A2"]
    assert tray[["row", "col", "top", "left", "bottom", "right"]].values.tolist() == [[1, 1, 0, 0, 35, 40],
                                                                                        [1, 2, 0, 45, 35, 80]]
    assert tray["leaf_count"].tolist() == [2, 1]
    assert tray["source"].tolist() == ["model", "manual"]
    assert counts.loc[counts["image"] == "single", "plant"].isna().all()
    text_rows = (tmp_path / "out" / "counts.csv").read_text().splitlines()
    assert text_rows[1].startswith("single,,,,,,,,1,") and text_rows[2].startswith("tray,A1,1,1,0,0,35,40,2,")

    plants = pd.read_csv(tmp_path / "out" / "plants.csv")
    by_plant = plants[plants["image"] == "tray"].set_index("plant")
    assert by_plant.loc["A1", "rosette_area_px"] == 100 + 70
    assert by_plant.loc["A2", "rosette_area_mm2"] == pytest.approx(200 / 4)
    leaves = pd.read_csv(tmp_path / "out" / "leaves.csv")
    tray_leaves = leaves[leaves["image"] == "tray"].set_index("leaf_id")
    assert tray_leaves.loc[[1, 2, 3], "plant"].tolist() == ["A1", "A1", "A2"]
    assert pd.isna(tray_leaves.loc[4, "plant"])  # in no plant's box


def test_a_folder_without_trays_keeps_its_columns(folders):
    write_report(folders["pred"], folders["out"])
    assert list(pd.read_csv(folders["out"] / "counts.csv").columns) == list(COUNT_COLUMNS)
