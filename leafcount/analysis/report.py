"""Reports on a folder of label images: counts, traits, CVPPP scores, HTML.

:func:`write_report` reads every ``<name>_label.png`` of a folder (model
output, hand corrections, or both) and writes tidy tables a biologist can
take to R or a spreadsheet:

- ``counts.csv``: one row per image: leaf count, where the leaves came from
  (``model``, ``manual`` or ``mixed``, from the corrections sidecar) and the
  model, stop threshold and CRF setting recorded there; a sidecar that
  cannot be read leaves these cells blank (its labels are still reported);
- ``leaves.csv``: one row per leaf, the traits of :func:`~leafcount.analysis.traits.leaf_traits`;
- ``plants.csv``: one row per image, :func:`~leafcount.analysis.traits.plant_traits`.

A tray image (its sidecar lists plant boxes, see :mod:`leafcount.analysis.plant_boxes`)
gives one row per plant in ``counts.csv`` and ``plants.csv``, with the
plant's name (``B3``), row, column and box, and ``leaves.csv`` names each
leaf's plant; a 20-plant tray is 20 rows.

Given ground truth, it also scores every image with the CVPPP metrics:

- ``metrics.csv``: per image SBD, FBD, DiC, |DiC| and both counts;
- ``metrics.json``: the same plus mean and std over images;
- ``report.html``: one self-contained file (inline CSS, plots and thumbnails
  embedded as base64 PNGs) that can be mailed or archived on its own.

Plots are drawn with matplotlib's Agg canvas directly (no ``pyplot``), so a
report can be made from any thread and never touches a GUI toolkit.
"""

from __future__ import annotations

import base64
import html
import io
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from PIL import Image

from leafcount import __version__
from leafcount.analysis.counts import count_row, counts_table, whole_boxes, write_table
from leafcount.analysis.metrics import (
    ImageScores,
    count_leaves,
    format_summary,
    score_image,
    summarize,
)
from leafcount.analysis.plant_boxes import leaf_owners, plant_name, plants_from_meta
from leafcount.analysis.traits import leaf_traits, plant_traits
from leafcount.atomic import write_text_atomic
from leafcount.cancel import CancelToken
from leafcount.data.cvppp import image_stem, read_labels
from leafcount.data.folder import list_images, read_image
from leafcount.errors import (
    ConfigError,
    EmptyFolderError,
    LabelFormatError,
    LeafcountError,
)
from leafcount.io.corrections import read_sidecar
from leafcount.io.overlay import overlay_labels

__all__ = ["METRIC_COLUMNS", "ReportSummary", "TableJoin", "leaf_source", "write_report"]

LABEL_SUFFIX = "_label.png"
METRIC_COLUMNS = ("image", "count_pred", "count_true", "dic", "abs_dic", "sbd", "fbd")
THUMBNAIL_WIDTH = 240

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]
TableJoin = Callable[[pd.DataFrame], pd.DataFrame]


@dataclass(frozen=True)
class ReportSummary:
    """What :func:`write_report` did.

    Attributes
    ----------
    out_dir : Path
        The report folder.
    files : tuple of Path
        Every file written, in order.
    n_images : int
        Label images reported on.
    scores : tuple of ImageScores
        One per image that had ground truth, in folder order; empty without truth.
    metrics : dict of str to (float, float), or None
        :func:`leafcount.analysis.metrics.summarize` of ``scores`` (SBD and FBD as
        fractions); ``None`` without truth.
    missing_truth : tuple of str
        Images left out of the scores because the truth folder has no label
        image of the same name.
    missing_images : tuple of str
        Images whose photo was not found in ``images_dir``: no colour traits,
        no thumbnail.
    unreadable_sidecars : tuple of str
        Why each corrections sidecar that could not be read was ignored (the
        message names the file); those images' labels are reported without
        it, their source, model and hand-edit cells blank or unset.
    """

    out_dir: Path
    files: tuple[Path, ...]
    n_images: int
    scores: tuple[ImageScores, ...] = ()
    metrics: dict[str, tuple[float, float]] | None = None
    missing_truth: tuple[str, ...] = ()
    missing_images: tuple[str, ...] = ()
    unreadable_sidecars: tuple[str, ...] = ()


def leaf_source(leaf_ids: Sequence[int] | np.ndarray, manual_ids: Sequence[int] | frozenset[int]) -> str:
    """Where an image's leaves came from: ``"model"``, ``"manual"`` or ``"mixed"``.

    Parameters
    ----------
    leaf_ids : sequence of int
        The ids present in the label image.
    manual_ids : collection of int
        The ids the sidecar marks as edited by hand (absent ids are ignored).

    Returns
    -------
    str
        ``"manual"`` when every leaf was edited by hand, ``"mixed"`` when some
        were, ``"model"`` when none were (also for an image without leaves).

    Examples
    --------
    >>> leaf_source([1, 2, 3], {2}), leaf_source([1, 2], {1, 2, 9}), leaf_source([4], set())
    ('mixed', 'manual', 'model')
    """
    present = {int(i) for i in leaf_ids}
    edited = present & {int(i) for i in manual_ids}
    if not edited:
        return "model"
    return "manual" if edited == present else "mixed"


def write_report(
    labels_dir: str | Path,
    out_dir: str | Path,
    *,
    images_dir: str | Path | None = None,
    truth_dir: str | Path | None = None,
    px_per_mm: float | None = None,
    n_worst: int = 6,
    on_progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    labels_source: str | None = None,
    join: TableJoin | None = None,
) -> ReportSummary:
    """Write the count, trait and (with ground truth) score report of a folder.

    Parameters
    ----------
    labels_dir : str or Path
        Folder of ``<name>_label.png`` label images (CVPPP palette or grey
        PNGs), each optionally with the ``<name>_label.json`` sidecar that
        :func:`leafcount.io.corrections.save_corrections` writes.
    out_dir : str or Path
        Report folder; created if missing. Existing report files are
        replaced, each only once its new version is complete.
    images_dir : str or Path, optional
        Folder of the photos (``<name>_rgb.png`` or ``<name>.jpg`` ...). With
        it, ``leaves.csv`` has mean leaf colours and ``report.html`` shows the
        worst images as thumbnails with their leaves overlaid.
    truth_dir : str or Path, optional
        Folder of ground-truth ``<name>_label.png`` (a CVPPP folder, or saved
        corrections). With it, ``metrics.csv``, ``metrics.json`` and
        ``report.html`` are written for the images that have a truth file.
    px_per_mm : float, optional
        Image scale; fills the ``_mm`` / ``_mm2`` trait columns.
    n_worst : int
        How many of the lowest-SBD images the HTML report shows (>= 0).
    on_progress : callable (done, total), optional
        Called after each label image is read and measured.
    cancel : CancelToken, optional
        Checked between images and before writing: a cancelled report
        writes no file.
    labels_source : str, optional
        How ``report.html`` names where the labels came from (default: the
        path of ``labels_dir``), e.g. when they were gathered in a
        temporary folder.
    join : callable, optional
        Applied to ``counts.csv``, ``plants.csv`` and ``leaves.csv`` before
        they are written: the experiment's metadata columns
        (:class:`leafcount.experiment.MetadataJoin`).

    Returns
    -------
    ReportSummary

    Raises
    ------
    EmptyFolderError
        When a given folder does not exist, ``labels_dir`` holds no
        ``*_label.png``, or no label image has a truth file of the same name.
    LabelFormatError
        When a label image is unreadable, or its size differs from its
        photo's or its ground truth's (the message names the file). A
        sidecar that cannot be read is not an error: it is logged as a
        warning and listed in ``unreadable_sidecars``.
    ImageReadError
        When a photo cannot be read.
    ConfigError
        When ``px_per_mm`` is not a positive number or ``n_worst`` is negative.
    Cancelled
        When ``cancel`` is set.
    LeafcountError
        When ``out_dir`` cannot be created or a file cannot be written.

    Notes
    -----
    Images are named by their label file without ``_label.png``
    (``plant001``), the name every table uses, so the tables join on
    ``image``. Counts are distinct non-zero labels (CVPPP). A label image
    without sidecar counts as model output with unknown model. Empty cells
    are missing values. SBD and FBD are fractions in [0, 1] in the CSV and
    JSON files and percentages in the HTML; std uses N - 1 like the CVPPP
    organisers' Matlab code.
    """
    if n_worst < 0:
        raise ConfigError(f"n_worst: expected a number of images >= 0, found {n_worst}")
    labels_dir = _existing_folder(labels_dir, "label")
    images_dir = Path(images_dir) if images_dir is not None else None
    label_paths = sorted(
        path for path in labels_dir.glob(f"*{LABEL_SUFFIX}") if path.is_file() and not path.name.startswith(".")
    )
    if not label_paths:
        raise EmptyFolderError(f"no *{LABEL_SUFFIX} label images in this folder", labels_dir)
    names = [path.name[: -len(LABEL_SUFFIX)] for path in label_paths]
    photos = _photos_by_name(_existing_folder(images_dir, "image")) if images_dir is not None else {}
    truth_paths: dict[str, Path] = {}
    if truth_dir is not None:
        truth_dir = _existing_folder(truth_dir, "ground-truth")
        truth_paths = {name: truth_dir / f"{name}{LABEL_SUFFIX}" for name in names}
        truth_paths = {name: path for name, path in truth_paths.items() if path.is_file()}
        if not truth_paths:
            raise EmptyFolderError(
                f"no ground truth for any of the {len(names)} label image(s) of {labels_dir.name} "
                f"(looked for {names[0]}{LABEL_SUFFIX} and the like)",
                truth_dir,
            )

    counts, leaves, plants, scores, bad_sidecars = [], [], [], [], []
    for done, (name, label_path) in enumerate(zip(names, label_paths), start=1):
        if cancel is not None:
            cancel.raise_if_cancelled()
        labels = read_labels(label_path)
        sidecar = read_sidecar(f"{name}.png", labels_dir, lenient=True)  # any photo name whose stem is `name`
        if sidecar is not None and sidecar.problem:
            log.warning("warning: %s; its labels are reported without it", sidecar.problem)
            bad_sidecars.append(sidecar.problem)
        manual_ids = sidecar.manual_ids if sidecar is not None else frozenset()
        meta = sidecar.meta if sidecar is not None else {}
        known_source = sidecar is None or not sidecar.problem  # else which leaves were hand-edited is unknown
        boxes = plants_from_meta(meta.get("plants"))
        photo = _read_photo(photos[name], labels, label_path) if name in photos else None
        table = leaf_traits(labels, photo, px_per_mm=px_per_mm, manual_ids=manual_ids)
        table.insert(0, "image", name)
        if boxes:
            owners = leaf_owners(labels, boxes)
            table.insert(1, "plant", [plant_name(boxes[owners[i]]) if i in owners else None for i in table["leaf_id"]])
            for position, box in enumerate(boxes):
                ids = [leaf for leaf, owner in owners.items() if owner == position]
                counts.append(count_row(name, len(ids), leaf_source(ids, manual_ids), meta, box))
                plants.append({"image": name, "plant": plant_name(box),
                               **plant_traits(_only_leaves(labels, ids), px_per_mm=px_per_mm)})
        else:
            leaf_ids = np.flatnonzero(np.bincount(labels.ravel()))
            source = leaf_source(leaf_ids[leaf_ids > 0], manual_ids) if known_source else None
            counts.append(count_row(name, count_leaves(labels), source, meta))
            plants.append({"image": name, **plant_traits(labels, px_per_mm=px_per_mm)})
        leaves.append(table)
        if name in truth_paths:
            scores.append(_score(labels, truth_paths[name], name, label_path))
        if on_progress is not None:
            on_progress(done, len(names))
    if cancel is not None:
        cancel.raise_if_cancelled()

    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LeafcountError(f"cannot create the report folder ({exc.strerror or exc})", out_dir) from exc
    join = join or (lambda table: table)
    files = [
        write_table(out_dir / "counts.csv", join(counts_table(counts))),
        write_table(out_dir / "leaves.csv", join(_concat_leaf_tables(leaves))),
        write_table(out_dir / "plants.csv", join(whole_boxes(pd.DataFrame(plants)))),
    ]
    summary = None
    if scores:
        summary = summarize(scores)
        files.append(write_table(out_dir / "metrics.csv", _metrics_table(scores)))
        files.append(_write_metrics_json(out_dir / "metrics.json", scores, summary, truth_dir))
        page = _html_report(
            scores,
            summary,
            worst=_worst_thumbnails(scores, n_worst, labels_dir, photos, truth_paths),
            sources={"labels": labels_source or labels_dir, "images": images_dir, "truth": truth_dir},
            n_images=len(names),
        )
        path = out_dir / "report.html"
        write_text_atomic(path, page)
        files.append(path)
    return ReportSummary(
        out_dir=out_dir,
        files=tuple(files),
        n_images=len(names),
        scores=tuple(scores),
        metrics=summary,
        missing_truth=tuple(name for name in names if truth_dir is not None and name not in truth_paths),
        missing_images=tuple(name for name in names if images_dir is not None and name not in photos),
        unreadable_sidecars=tuple(bad_sidecars),
    )


def _only_leaves(labels: np.ndarray, ids: Sequence[int]) -> np.ndarray:
    """``labels`` with every leaf but ``ids`` erased, cropped to those leaves."""
    keep = np.isin(labels, ids)
    if not keep.any():
        return np.zeros((1, 1), dtype=labels.dtype)
    rows, cols = np.flatnonzero(keep.any(axis=1)), np.flatnonzero(keep.any(axis=0))
    window = np.s_[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return np.where(keep[window], labels[window], 0)


def _existing_folder(folder: str | Path, role: str) -> Path:
    path = Path(folder)
    if not path.is_dir():
        raise EmptyFolderError(f"the {role} folder does not exist or is not a folder", path.absolute())
    return path


def _photos_by_name(images_dir: Path) -> dict[str, Path]:
    return {image_stem(path): path for path in list_images(images_dir)}


def _read_photo(photo_path: Path, labels: np.ndarray, label_path: Path) -> np.ndarray:
    photo = read_image(photo_path, max_pixels=None)
    if photo.shape[:2] != labels.shape:
        raise LabelFormatError(
            f"label image is {labels.shape[1]} x {labels.shape[0]} pixels but "
            f"{photo_path.name} is {photo.shape[1]} x {photo.shape[0]}",
            label_path,
        )
    return photo


def _score(labels: np.ndarray, truth_path: Path, name: str, label_path: Path) -> ImageScores:
    truth = read_labels(truth_path)
    if truth.shape != labels.shape:
        raise LabelFormatError(
            f"label image is {labels.shape[1]} x {labels.shape[0]} pixels but its ground truth "
            f"{truth_path} is {truth.shape[1]} x {truth.shape[0]}",
            label_path,
        )
    return score_image(labels, truth, name)


def _concat_leaf_tables(tables: list[pd.DataFrame]) -> pd.DataFrame:
    non_empty = [table for table in tables if len(table)]
    if not non_empty:
        return tables[0]  # no leaf anywhere: header only, same columns
    return pd.concat(non_empty, ignore_index=True)


def _metrics_table(scores: Sequence[ImageScores]) -> pd.DataFrame:
    rows = [{"image": s.name, **{column: getattr(s, column) for column in METRIC_COLUMNS[1:]}} for s in scores]
    return pd.DataFrame(rows, columns=list(METRIC_COLUMNS))


def _write_metrics_json(
    path: Path, scores: Sequence[ImageScores], summary: dict[str, tuple[float, float]], truth_dir: Path
) -> Path:
    record = {
        "leafcount_version": __version__,
        "truth": str(truth_dir.absolute()),
        "n_images": len(scores),
        "std": "sample standard deviation (N - 1), as the CVPPP organisers' Matlab code",
        "summary": {key: {"mean": mean, "std": std} for key, (mean, std) in summary.items()},
        "images": _metrics_table(scores).to_dict(orient="records"),
    }
    write_text_atomic(path, json.dumps(record, indent=2, allow_nan=False) + "\n")
    return path


@dataclass(frozen=True)
class _Thumbnail:
    scores: ImageScores
    prediction_png: bytes
    truth_png: bytes


def _worst_thumbnails(
    scores: Sequence[ImageScores],
    n_worst: int,
    labels_dir: Path,
    photos: dict[str, Path],
    truth_paths: dict[str, Path],
) -> list[_Thumbnail]:
    """Overlays of the lowest-SBD images that have a photo (read again: only these few)."""
    worst = sorted((s for s in scores if s.name in photos), key=lambda s: (s.sbd, s.name))[:n_worst]
    thumbnails = []
    for record in worst:
        photo = read_image(photos[record.name], max_pixels=None)
        prediction = read_labels(labels_dir / f"{record.name}{LABEL_SUFFIX}")
        truth = read_labels(truth_paths[record.name])
        thumbnails.append(
            _Thumbnail(
                record,
                prediction_png=_thumbnail_png(overlay_labels(photo, prediction)),
                truth_png=_thumbnail_png(overlay_labels(photo, truth)),
            )
        )
    return thumbnails


def _thumbnail_png(rgb: np.ndarray) -> bytes:
    image = Image.fromarray(rgb, mode="RGB")
    if image.width > THUMBNAIL_WIDTH:
        height = max(1, round(image.height * THUMBNAIL_WIDTH / image.width))
        image = image.resize((THUMBNAIL_WIDTH, height), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _figure_png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def _count_scatter_png(scores: Sequence[ImageScores]) -> bytes:
    figure = Figure(figsize=(4.2, 4.0), layout="constrained")
    axes = figure.add_subplot()
    true_counts = np.array([s.count_true for s in scores])
    pred_counts = np.array([s.count_pred for s in scores])
    top = int(max(true_counts.max(), pred_counts.max(), 1)) + 1
    axes.plot([0, top], [0, top], color="0.6", linewidth=1, label="predicted = true")
    axes.scatter(true_counts, pred_counts, s=22, alpha=0.7, color="#2a7a3b", edgecolors="none")
    axes.set(xlim=(0, top), ylim=(0, top), xlabel="true leaf count", ylabel="predicted leaf count", aspect="equal")
    axes.legend(loc="upper left", frameon=False)
    return _figure_png(figure)


def _sbd_histogram_png(scores: Sequence[ImageScores]) -> bytes:
    figure = Figure(figsize=(4.2, 4.0), layout="constrained")
    axes = figure.add_subplot()
    axes.hist([100.0 * s.sbd for s in scores], bins=np.linspace(0, 100, 21), color="#2a7a3b", edgecolor="white")
    axes.set(xlim=(0, 100), xlabel="SBD (%)", ylabel="images")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    return _figure_png(figure)


def _img_tag(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 62em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { padding: 0.25em 0.7em; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.plots, .thumbs { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; } figcaption { font-size: 0.85em; color: #555; }
.pair { display: flex; gap: 0.3em; }
.note { color: #555; font-size: 0.9em; }
"""


def _html_report(
    scores: Sequence[ImageScores],
    summary: dict[str, tuple[float, float]],
    *,
    worst: Sequence[_Thumbnail],
    sources: dict[str, Path | str | None],  # a str is a description, shown as it is
    n_images: int,
) -> str:
    formatted = format_summary(summary)
    esc = html.escape
    source_rows = "".join(
        f"<tr><td>{esc(role)}</td><td>{esc(folder if isinstance(folder, str) else str(folder.absolute()))}</td></tr>"
        for role, folder in sources.items()
        if folder is not None
    )
    summary_rows = "".join(
        f"<tr><td>{label}</td><td>{esc(formatted[key])}</td></tr>"
        for key, label in (("sbd", "SBD (%)"), ("fbd", "FBD (%)"), ("dic", "DiC"), ("abs_dic", "|DiC|"))
    )
    image_rows = "".join(
        f"<tr><td>{esc(s.name)}</td><td>{s.count_pred}</td><td>{s.count_true}</td><td>{s.dic:+d}</td>"
        f"<td>{s.abs_dic}</td><td>{100 * s.sbd:.1f}</td><td>{100 * s.fbd:.1f}</td></tr>"
        for s in scores
    )
    if worst:
        cards = "".join(
            f'<figure><div class="pair">{_img_tag(t.prediction_png, t.scores.name + " prediction")}'
            f'{_img_tag(t.truth_png, t.scores.name + " ground truth")}</div>'
            f"<figcaption>{esc(t.scores.name)}: SBD {100 * t.scores.sbd:.1f} %, DiC {t.scores.dic:+d} "
            f"({t.scores.count_pred} predicted, {t.scores.count_true} true). Left: prediction, right: truth."
            "</figcaption></figure>"
            for t in worst
        )
        worst_section = f'<div class="thumbs">{cards}</div>'
    else:
        worst_section = '<p class="note">No photos given (images folder), so no thumbnails.</p>'
    left_out = n_images - len(scores)
    coverage = f"{len(scores)} image(s) scored" + (f"; {left_out} without ground truth left out" if left_out else "")
    generated = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>leafcount report</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>Leaf segmentation report</h1>
<p class="note">leafcount {esc(__version__)}, {esc(generated)}. {esc(coverage)}.</p>
<table>{source_rows}</table>
<h2>Summary: mean (std) over images</h2>
<table><tr><th>metric</th><th>mean (std)</th></tr>{summary_rows}</table>
<p class="note">CVPPP conventions: SBD is the symmetric best Dice of the leaves, FBD the Dice of the
plant masks, DiC the predicted minus the true leaf count; std with N - 1.</p>
<h2>Plots</h2>
<div class="plots">
<figure>{_img_tag(_count_scatter_png(scores), "predicted vs true leaf count")}
<figcaption>Predicted vs true leaf count; the line is a perfect count.</figcaption></figure>
<figure>{_img_tag(_sbd_histogram_png(scores), "SBD histogram")}
<figcaption>SBD per image.</figcaption></figure>
</div>
<h2>Lowest SBD</h2>
{worst_section}
<h2>Per image</h2>
<table><tr><th>image</th><th>predicted</th><th>true</th><th>DiC</th><th>|DiC|</th><th>SBD (%)</th><th>FBD (%)</th></tr>
{image_rows}</table>
</body>
</html>
"""
