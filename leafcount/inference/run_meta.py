"""What a label sidecar says about how its labels were made: one schema, one builder.

``leafcount segment``, the app's Save and the napari writer all record a model
run through :func:`run_meta`, so a sidecar reads the same whoever wrote it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from leafcount.analysis.plant_boxes import PlantBox, plants_to_meta
from leafcount.inference.segment import SegmentConfig

RUN_META_SCHEMA: dict[str, str] = {
    "model": "name of the checkpoint that made the labels",
    "model_created": "that checkpoint's creation time (which version of the model)",
    "mask_threshold": "SegmentConfig.mask_threshold of the decoding",
    "stop_threshold": "SegmentConfig.stop_threshold",
    "max_steps": "SegmentConfig.max_steps",
    "assignment": "SegmentConfig.assignment (first, argmax, grow, basins or centres)",
    "core_threshold": "SegmentConfig.core_threshold: where grow, basins and centres take leaf interiors from the boundary map",
    "core_min_share": "SegmentConfig.core_min_share: basins and centres seed no basin from a core under this share of the median core",
    "centre_threshold": "SegmentConfig.centre_threshold: where centres finds leaf centres on the centre map",
    "fragment_threshold": "SegmentConfig.fragment_threshold: centres joins basins whose centre map stays below it to a neighbour",
    "centre_min_pixels": "SegmentConfig.centre_min_pixels: centre-map peaks smaller than this (maps' pixels) split no basin",
    "steps_split": "SegmentConfig.steps_split: whether basins and centres let the steps split basins to reach their count",
    "flips": "SegmentConfig.flips: passes whose leaf masks were fused",
    "dense_flips": "SegmentConfig.dense_flips: passes whose plant and edge maps were fused",
    "heads_on_plant": "SegmentConfig.heads_on_plant: whether the full-resolution heads ran on the plant's window only",
    "crf": "whether the dense CRF refined the leaves",
    "plants": "trays only: one box record per plant (leafcount.analysis.plant_boxes), in the label PNG's pixels",
    "notes": "only when there are any: what the user should know (grey image, no plant found, ...)",
}
"""Every key :func:`run_meta` may write, with its meaning."""


@dataclass(frozen=True)
class ModelRun:
    """Which model and settings produced a set of model labels."""

    model_name: str
    config: SegmentConfig
    crf: bool = False
    model_created: str = ""  # the checkpoint's creation time: which version of the model


def run_meta(run: ModelRun, plants: Sequence[PlantBox] = (), notes: Sequence[str] = ()) -> dict[str, Any]:
    """The sidecar record of ``run`` (keys: :data:`RUN_META_SCHEMA`).

    ``plants`` are the tray's boxes in the label PNG's pixels (none for one
    plant); ``notes`` what the user was told about the result.

    >>> sorted(run_meta(ModelRun("tiny", SegmentConfig())))[:4]
    ['assignment', 'centre_min_pixels', 'centre_threshold', 'core_min_share']
    """
    config = run.config
    meta: dict[str, Any] = {
        "model": run.model_name,
        "model_created": run.model_created,
        "mask_threshold": config.mask_threshold,
        "stop_threshold": config.stop_threshold,
        "max_steps": config.max_steps,
        "assignment": config.assignment,
        "core_threshold": config.core_threshold,
        "core_min_share": config.core_min_share,
        "centre_threshold": config.centre_threshold,
        "fragment_threshold": config.fragment_threshold,
        "centre_min_pixels": config.centre_min_pixels,
        "steps_split": config.steps_split,
        "flips": config.flips,
        "dense_flips": config.dense_flips,
        "heads_on_plant": config.heads_on_plant,
        "crf": run.crf,
    }
    if plants:
        meta["plants"] = plants_to_meta(plants)
    if notes:
        meta["notes"] = list(notes)
    return meta
