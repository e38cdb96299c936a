"""``tracks.csv`` (a row per leaf per date) and ``growth.csv`` (a row per plant per date).

Measures are those of ``leafcount report`` (:mod:`leafcount.traits`, so
scikit-image's definitions), taken on the tracked label images: ``leaf_id``
is the value of the leaf in every ``<name>_label.png`` of its plant. The
relative growth rate is that of the rosette area between a date and the one
before, ``ln(A1 / A0)`` per day; new leaves are the tracks that start on a
date (none are counted on a plant's first date: all its leaves are new).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from leafcount.atomic import write_text_atomic
from leafcount.series.align import angle_around
from leafcount.series.linking import LinkedFrame
from leafcount.series.metadata import Metadata
from leafcount.analysis.traits import leaf_traits, plant_traits

TRACK_COLUMNS = ("plant", "position", "time", "image", "leaf_id", "area_px", "area_mm2", "perimeter_px",
                 "perimeter_mm", "centroid_row", "centroid_col", "angle_deg", "first_seen", "is_manual")
GROWTH_COLUMNS = ("plant", "position", "time", "days", "image", "leaf_count", "rosette_area_px", "rosette_area_mm2",
                  "convex_hull_area_px", "convex_hull_area_mm2", "rosette_diameter_px", "rosette_diameter_mm",
                  "new_leaves", "relative_growth_rate")
_SECONDS_PER_DAY = 86400.0


def measure_frame(
    linked: LinkedFrame, tracked: np.ndarray, first_seen: dict[int, datetime], px_per_mm: float | None,
    manual_ids: frozenset[int],
) -> tuple[list[dict[str, object]], dict[str, object]]:
    """The tracks.csv rows of one plant on one date, and its growth.csv row (without the date-to-date columns).

    ``tracked`` is the whole image's label array in track ids; the plant's
    leaves are those of ``linked``.
    """
    frame = linked.frame
    top, left, bottom, right = frame.window
    crop = tracked[top:bottom, left:right]
    own = np.array(sorted(linked.track_ids.values()), dtype=np.int64)
    crop = np.where(np.isin(crop, own), crop, 0)
    where = {"plant": frame.plant, "position": frame.position, "time": frame.image.time,
             "image": frame.image.path.name}
    leaves = leaf_traits(crop, px_per_mm=px_per_mm, manual_ids=manual_ids)
    centroids = leaves[["centroid_row", "centroid_col"]].to_numpy() + np.array([top, left])
    areas = leaves["area_px"].to_numpy()
    centre = (centroids * areas[:, None]).sum(axis=0) / areas.sum() if len(leaves) else np.zeros(2)
    leaf_rows = [
        {**where, "leaf_id": int(leaf.leaf_id), "area_px": int(leaf.area_px), "area_mm2": leaf.area_mm2,
         "perimeter_px": leaf.perimeter_px, "perimeter_mm": leaf.perimeter_mm, "centroid_row": float(point[0]),
         "centroid_col": float(point[1]), "angle_deg": float(angle), "first_seen": first_seen[int(leaf.leaf_id)],
         "is_manual": bool(leaf.is_manual)}
        for leaf, point, angle in zip(leaves.itertuples(), centroids, angle_around(centroids, centre))
    ]
    traits = plant_traits(crop, px_per_mm=px_per_mm)
    growth_row = {**where, **{key: traits[key] for key in GROWTH_COLUMNS if key in traits},
                  "new_leaves": sum(first_seen[int(i)] == frame.image.time for i in leaves["leaf_id"])}
    return leaf_rows, growth_row


def tracks_table(rows: Sequence[dict[str, object]], metadata: Metadata | None) -> pd.DataFrame:
    """tracks.csv, sorted by plant, time and leaf id, metadata joined."""
    table = pd.DataFrame(list(rows), columns=list(TRACK_COLUMNS))
    return _with_metadata(table.sort_values(["plant", "time", "leaf_id"], kind="stable"), metadata)


def growth_table(rows: Sequence[dict[str, object]], metadata: Metadata | None) -> pd.DataFrame:
    """growth.csv: the rows of :func:`measure_frame` with days since the plant's first date,
    new leaves (blank on the first date) and the relative growth rate (per day; blank on the
    first date or when an area is 0)."""
    table = pd.DataFrame(list(rows)).reindex(columns=list(GROWTH_COLUMNS))
    table = table.sort_values(["plant", "time"], kind="stable").reset_index(drop=True)
    for _, group in table.groupby("plant", sort=False):
        index = group.index
        seconds = (group["time"] - group["time"].iloc[0]).dt.total_seconds()
        table.loc[index, "days"] = seconds / _SECONDS_PER_DAY
        table.loc[index[0], "new_leaves"] = np.nan
        areas, times = group["rosette_area_px"].to_numpy(float), group["time"].tolist()
        for i in range(1, len(index)):
            elapsed = (times[i] - times[i - 1]).total_seconds() / _SECONDS_PER_DAY
            if areas[i] > 0 and areas[i - 1] > 0 and elapsed > 0:
                table.loc[index[i], "relative_growth_rate"] = math.log(areas[i] / areas[i - 1]) / elapsed
    table["new_leaves"] = table["new_leaves"].astype("Int64")
    return _with_metadata(table, metadata)


def _with_metadata(table: pd.DataFrame, metadata: Metadata | None) -> pd.DataFrame:
    table = table.reset_index(drop=True)
    if metadata is None or table.empty:
        return table
    values = pd.DataFrame([metadata.values_for(row) for row in table.to_dict("records")],
                          columns=list(metadata.columns))
    return pd.concat([table, values], axis=1)


def write_table(path: Path, table: pd.DataFrame) -> Path:
    """Write a table as CSV (atomically), times as ISO dates, or dates and times when any has a time of day."""
    table = table.copy()
    times = [t for column in ("time", "first_seen") if column in table for t in table[column]]
    with_clock = any(t.hour or t.minute or t.second for t in times)
    for column in ("time", "first_seen"):
        if column in table:
            table[column] = [t.strftime("%Y-%m-%d %H:%M:%S" if with_clock else "%Y-%m-%d") for t in table[column]]
    buffer = io.StringIO(newline="")
    table.to_csv(buffer, index=False, na_rep="", lineterminator="\n")
    write_text_atomic(path, buffer.getvalue())
    return path
