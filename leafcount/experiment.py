"""The experiment's metadata (``--metadata plants.csv``) joined into the tables of
``leafcount segment`` and ``leafcount report``.

The table is read by :func:`leafcount.series.metadata.read_metadata`, as for
``leafcount track``, and keyed the same way: by ``plant`` (an image's plant,
``plant040``, or a tray's plant, ``tray1_B3``), by ``position`` (a tray
position, ``B3``) or by ``image`` (a photo's file name; matched by its stem,
so ``plant001_rgb.png`` keys the rows of ``plant001``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from leafcount.analysis.counts import COUNT_COLUMNS, PLANT_COLUMNS
from leafcount.analysis.traits import LEAF_TRAIT_COLUMNS
from leafcount.data.cvppp import image_stem
from leafcount.series.metadata import Metadata, read_metadata


def row_key(key: str, image: str, plant: object = None) -> str:
    """What a table row is called in the metadata's ``key`` column.

    >>> row_key("plant", "tray1.jpg", "B3"), row_key("plant", "plant040_rgb.png"), row_key("position", "t.jpg", "B3")
    ('tray1_B3', 'plant040', 'B3')
    """
    position = plant if isinstance(plant, str) and plant else ""
    stem = image_stem(image)
    if key == "image":
        return stem
    if key == "position":
        return position
    return f"{stem}_{position}" if position else stem


class MetadataJoin:
    """Adds the metadata's columns to tables with an ``image`` (and, for trays, ``plant``) column."""

    def __init__(self, metadata: Metadata) -> None:
        rows = metadata.rows
        if metadata.key == "image":
            rows = {image_stem(name): values for name, values in rows.items()}
        self.metadata = dataclasses.replace(metadata, rows=rows)

    @classmethod
    def read(cls, path: str | Path) -> MetadataJoin:
        """Read ``path``; a column named like one leafcount writes is a ConfigError."""
        return cls(read_metadata(path, reserved=(*COUNT_COLUMNS, *PLANT_COLUMNS, *LEAF_TRAIT_COLUMNS)))

    def keys(self, table: pd.DataFrame) -> list[str]:
        plants = table["plant"] if "plant" in table else [None] * len(table)
        return [row_key(self.metadata.key, str(image), plant) for image, plant in zip(table["image"], plants)]

    def __call__(self, table: pd.DataFrame) -> pd.DataFrame:
        """``table`` with one more column per metadata column (empty where a row has no metadata)."""
        metadata = self.metadata
        values = [metadata.values_for({metadata.key: key}) for key in self.keys(table)]
        joined = pd.DataFrame(values, columns=list(metadata.columns), index=table.index)
        return pd.concat([table, joined], axis=1)

    def mismatches(self, keys: Iterable[str]) -> list[str]:
        """Plants of the images missing from the table, and rows that match no plant: one message each."""
        return self.metadata.mismatches(keys)
