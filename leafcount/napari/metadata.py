"""A label layer's ``metadata`` as a leafcount sidecar says it, and back.

One mapping both ways, so that opening a label PNG and saving the layer
again writes an equivalent sidecar: the same image name, hand-edited
leaves and model/threshold record.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from leafcount.data.cvppp import label_path_for
from leafcount.io.corrections import Sidecar

IMAGE = "image"  # the photo's file name: the sidecar's "image"
MANUAL_LEAVES = "manual_leaves"  # ids of the leaves edited by hand
RUN = "leafcount"  # the sidecar's free "meta": model, thresholds, plants, notes
SAVED = "saved"
PROBLEM = "sidecar_problem"  # why a sidecar beside the PNG could not be read

LABEL_ENDING = "_label.png"


def layer_metadata(image_name: str, sidecar: Sidecar) -> dict[str, Any]:
    """What a Labels layer keeps of the sidecar of the labels it shows."""
    metadata: dict[str, Any] = {
        IMAGE: sidecar.image or image_name,
        MANUAL_LEAVES: sorted(sidecar.manual_ids),
        RUN: dict(sidecar.meta),
        SAVED: sidecar.saved,
    }
    if sidecar.problem:
        metadata[PROBLEM] = sidecar.problem
    return metadata


def pairing_image_path(label_path: Path) -> Path:
    """An image path whose label file is ``label_path`` (``x_label.png`` <- ``x_rgb.png``).

    The ``_rgb`` form pairs with any stem, also one that itself ends in ``_rgb``.
    """
    return label_path.with_name(label_path.name[: -len(LABEL_ENDING)] + "_rgb.png")


def image_path_for(target: Path, metadata: Mapping[str, Any]) -> Path:
    """The image to save labels for when napari is asked to write ``target``.

    ``x_label.png`` is written as asked, for the layer's own image name when
    that pairs with it (so the sidecar keeps naming the photo); any other
    name is taken as the photo's, and gets its CVPPP pair ``x_label.png``.
    """
    if not target.name.endswith(LABEL_ENDING):
        return target
    named = target.with_name(Path(str(metadata.get(IMAGE) or "_")).name)
    return named if label_path_for(named) == target else pairing_image_path(target)
