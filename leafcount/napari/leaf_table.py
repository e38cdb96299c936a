"""The leaf table of a Labels layer: leafcount's per-leaf traits as napari ``features``.

napari matches a Labels layer's features to label values through their
``index`` column, so each row shows under the mouse on its leaf; the same
table is the CSV the widget exports.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from leafcount.analysis.plant_boxes import PlantBox, leaf_owners, plant_name
from leafcount.analysis.traits import leaf_traits
from leafcount.atomic import write_text_atomic


def leaf_features(
    labels: np.ndarray,
    image: np.ndarray | None = None,
    manual_ids: Iterable[int] = (),
    plants: Sequence[PlantBox] = (),
) -> pd.DataFrame:
    """:func:`leafcount.analysis.traits.leaf_traits` with napari's ``index`` column first and, for a
    tray, the ``plant`` (``B3``) each leaf belongs to."""
    table = leaf_traits(labels, image, manual_ids=manual_ids)
    table.insert(0, "index", table["leaf_id"])
    if plants:
        owners = leaf_owners(np.asarray(labels), plants)
        names = [plant_name(plants[owners[leaf]]) if leaf in owners else "" for leaf in table["leaf_id"]]
        table.insert(2, "plant", names)
    return table


def export_csv(table: pd.DataFrame, path: str | Path) -> None:
    """The leaf table as CSV without napari's ``index`` column, written atomically."""
    write_text_atomic(path, table.drop(columns="index").to_csv(index=False))
