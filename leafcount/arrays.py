"""Validation of the image and label arrays that public functions receive.

One place for the checks, so every module rejects a bad array with the same
clear message (shape, dtype or value found) instead of failing deep inside
numpy or scikit-image.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from leafcount.errors import ImageReadError, LabelFormatError


def check_labels(labels: ArrayLike, name: str = "labels") -> np.ndarray:
    """Return ``labels`` as a validated 2-D array of non-negative integers.

    Parameters
    ----------
    labels : array_like, shape (H, W), integer dtype
        A label image: 0 is background, every other value one leaf.
    name : str
        What to call the array in error messages.

    Returns
    -------
    numpy.ndarray
        The same data as an ndarray (not copied when already one).

    Raises
    ------
    LabelFormatError
        When the array is not 2-D, is empty, is not of an integer dtype, or
        holds negative values; the message gives the shape, dtype or value.

    Examples
    --------
    >>> check_labels([[0, 1], [2, 2]]).shape
    (2, 2)
    """
    try:
        array = np.asarray(labels)
    except (TypeError, ValueError) as exc:
        raise LabelFormatError(f"{name}: expected a 2-D integer array, got {type(labels).__name__}") from exc
    if array.ndim != 2:
        raise LabelFormatError(f"{name}: expected a 2-D (H, W) array, found shape {array.shape}")
    if array.size == 0:
        raise LabelFormatError(f"{name}: expected a non-empty image, found shape {array.shape}")
    if not np.issubdtype(array.dtype, np.integer):
        raise LabelFormatError(f"{name}: expected an integer dtype, found {array.dtype}")
    if np.issubdtype(array.dtype, np.signedinteger):
        lowest = int(array.min())
        if lowest < 0:
            raise LabelFormatError(f"{name}: labels must be >= 0 (0 = background), found {lowest}")
    return array


def check_image(image: ArrayLike, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Return ``image`` as a validated (H, W, 3) floating array.

    Parameters
    ----------
    image : array_like, shape (H, W, 3), float
        An RGB image in [0, 1].
    shape : (H, W), optional
        The size it must have (that of its label image).

    Raises
    ------
    ImageReadError
        When the array is not (H, W, 3) float, is empty, or holds NaN / infinity.
    LabelFormatError
        When ``shape`` is given and differs.
    """
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] != 3 or array.size == 0 or not np.issubdtype(array.dtype, np.floating):
        raise ImageReadError(
            f"image: expected an (H, W, 3) float array in [0, 1], found shape {array.shape} dtype {array.dtype}"
        )
    if shape is not None and array.shape[:2] != tuple(shape):
        raise LabelFormatError(f"labels shape {tuple(shape)} does not match image shape {array.shape}")
    if not np.isfinite(array).all():
        raise ImageReadError("image: expected finite values in [0, 1], found NaN or infinity")
    return array
