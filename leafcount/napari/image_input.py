"""Any napari image layer's data as the (H, W, 3) float RGB in [0, 1] the network reads.

A layer opened by leafcount's reader already is that; one from napari's own
reader or another plugin may be grey, RGBA, 8 or 16 bit. The conversion
follows :func:`leafcount.data.folder.read_photo` (integers divided by
their type's maximum, floats clipped, NaN as 0), so the same picture gives
the network the same numbers whichever reader opened it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from leafcount.errors import ImageReadError


def rgb_float(data: ArrayLike) -> np.ndarray:
    """``data`` as float32 (H, W, 3) in [0, 1]; a grey image repeated into three channels, alpha dropped.

    Raises
    ------
    ImageReadError
        When the layer is not one 2-D grey, RGB or RGBA image (a stack, a volume).
    """
    array = np.asarray(data)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    elif array.ndim == 3 and array.shape[2] == 4:
        array = array[..., :3]
    if array.ndim != 3 or array.shape[2] != 3 or array.size == 0:
        raise ImageReadError(f"expected one 2-D grey, RGB or RGBA image, the layer's data has shape {array.shape}")
    if array.dtype == np.bool_:
        return array.astype(np.float32)
    if np.issubdtype(array.dtype, np.integer):
        return (array / np.iinfo(array.dtype).max).clip(0.0, 1.0).astype(np.float32)
    return np.nan_to_num(array.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0).clip(0.0, 1.0)
