"""The layers the widget adds beside an image: leaves, kappa(h_t) and plant boxes.

Each is found by name and updated in place when it exists, so a rerun or a
new threshold replaces what the viewer shows instead of piling up layers,
and each lies over its image wherever that image's layer sits (its scale
and translation).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from napari.layers import Image, Labels, Layer, Shapes

from leafcount.analysis.plant_boxes import PlantBox, plant_name


def leaves_name(image: Image) -> str:
    return f"{image.name} leaves"


def kappa_name(image: Image) -> str:
    return f"{image.name} kappa"


def plants_name(image: Image) -> str:
    return f"{image.name} plants"


def _existing(viewer: Any, name: str, kind: type[Layer]) -> Layer | None:
    layer = viewer.layers[name] if name in viewer.layers else None
    return layer if isinstance(layer, kind) else None


def show_labels(viewer: Any, image: Image, labels: np.ndarray, metadata: dict[str, Any] | None = None) -> Labels:
    """The image's leaves layer, holding ``labels``; ``metadata`` (the sidecar record) replaces
    the layer's when given."""
    layer = _existing(viewer, leaves_name(image), Labels)
    if layer is None:
        layer = viewer.add_labels(labels, name=leaves_name(image), scale=image.scale, translate=image.translate,
                                  opacity=0.6)
    else:
        layer.data = labels
    if metadata is not None:
        layer.metadata = dict(metadata)
    return layer


def show_kappa(viewer: Any, image: Image, kappa: np.ndarray) -> Image:
    """kappa(h_t) of one step over the image: the recurrent grid stretched to the image's extent."""
    height, width = image.data.shape[:2]
    cell = np.array([height / kappa.shape[0], width / kappa.shape[1]])
    scale = np.asarray(image.scale[-2:]) * cell
    translate = np.asarray(image.translate[-2:]) + np.asarray(image.scale[-2:]) * (cell - 1) / 2
    low, high = float(kappa.min()), float(kappa.max())
    limits = (low, high if high > low else low + 1.0)  # additive: where the step does not look stays dark
    layer = _existing(viewer, kappa_name(image), Image)
    if layer is None:
        return viewer.add_image(kappa, name=kappa_name(image), scale=scale, translate=translate, colormap="inferno",
                                blending="additive", opacity=0.7, contrast_limits=limits)
    layer.data = kappa
    layer.scale, layer.translate, layer.contrast_limits = scale, translate, limits
    return layer


def show_plants(viewer: Any, image: Image, plants: Sequence[PlantBox], leaf_counts: Sequence[int] | None = None) -> Shapes:
    """One rectangle per plant (end-exclusive boxes drawn around their pixels), named as on a plate."""
    rectangles = [np.array([[p.top, p.left], [p.top, p.right], [p.bottom, p.right], [p.bottom, p.left]]) - 0.5
                  for p in plants]
    features = {"plant": [plant_name(p) for p in plants],
                "leaves": list(leaf_counts) if leaf_counts is not None else [-1] * len(plants)}
    text = {"string": "{plant}: {leaves}" if leaf_counts is not None else "{plant}", "color": "white",
            "anchor": "upper_left"}
    old = _existing(viewer, plants_name(image), Shapes)
    if old is not None:
        viewer.layers.remove(old)
    return viewer.add_shapes(rectangles, shape_type="rectangle", name=plants_name(image), features=features,
                             text=text, edge_color="yellow", face_color="transparent", edge_width=2,
                             scale=image.scale, translate=image.translate)
