"""The one schema of ``counts.csv``, written by ``leafcount segment`` and ``leafcount report``.

One row per image, or per plant of a tray (its name ``B3``, grid row and
column counted from 1, and box in the photo's pixels); where the leaves
came from (``model``, ``manual``, ``mixed``), the model, stop threshold and
CRF setting the label sidecar records, and the notes of the run (grey
photo, no plant found ...). Empty cells are missing values.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from leafcount.analysis.plant_boxes import PlantBox, plant_name
from leafcount.atomic import write_text_atomic

COUNT_COLUMNS = ("image", "leaf_count", "source", "model", "stop_threshold", "crf", "note")
PLANT_COLUMNS = ("plant", "row", "col", "top", "left", "bottom", "right")  # trays only


def plant_cells(box: PlantBox) -> dict[str, Any]:
    """A tray plant's cells: name, grid position from 1, box.

    >>> plant_cells(PlantBox(0, 1, 2, 10, 20, 30, 40))["plant"]
    'B3'
    """
    return {"plant": plant_name(box), "row": box.row + 1, "col": box.col + 1, "top": box.top,
            "left": box.left, "bottom": box.bottom, "right": box.right}


def count_row(
    image: str, leaf_count: int, source: str | None, meta: Mapping[str, Any], box: PlantBox | None = None
) -> dict[str, Any]:
    """One row of counts.csv; ``meta`` is the label sidecar's record of the run
    (:func:`leafcount.inference.run_meta.run_meta`), ``box`` the plant's on a tray."""
    return {"image": image, **(plant_cells(box) if box is not None else {}), "leaf_count": leaf_count,
            "source": source, "model": meta.get("model"), "stop_threshold": meta.get("stop_threshold"),
            "crf": meta.get("crf"), "note": "; ".join(meta.get("notes") or ())}


def counts_table(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The rows in the schema's columns; plant columns only when a row is a tray plant."""
    trays = any(row.get("plant") for row in rows)
    columns = [COUNT_COLUMNS[0], *(PLANT_COLUMNS if trays else ()), *COUNT_COLUMNS[1:]]
    return whole_boxes(pd.DataFrame(list(rows), columns=columns))


def whole_boxes(table: pd.DataFrame) -> pd.DataFrame:
    """Grid positions and boxes as integers, left empty for single-plant images
    (pandas would write them as floats, 3.0, beside the empty cells)."""
    for column in PLANT_COLUMNS[1:]:
        if column in table:
            table[column] = pd.to_numeric(table[column], errors="coerce").astype("Int64")
    return table


def write_table(path: Path, table: pd.DataFrame) -> Path:
    """A table as tidy CSV, atomically (UTF-8, ``\\n`` line ends, empty cells for missing values)."""
    buffer = io.StringIO(newline="")
    table.to_csv(buffer, index=False, na_rep="", lineterminator="\n")
    write_text_atomic(path, buffer.getvalue())
    return path
