"""Dense-CRF refinement of leaf labels (the paper's "RIS+CRF", Table 2).

RIS masks come from a coarse grid and are blurry at leaf edges; a fully
connected CRF (Kraehenbuehl & Koltun, NIPS 2011) with Gaussian and bilateral
(position + colour) kernels snaps them to colour edges in the photo. The CRF
comes from the optional ``pydensecrf2`` package (imported as ``pydensecrf``);
:func:`is_crf_available` says whether it can be used on this machine.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from leafcount.analysis.metrics import relabel_consecutive
from leafcount.arrays import check_image
from leafcount.errors import LabelFormatError, LeafcountError
from leafcount.settings import check_integer, check_number, checkpoint_settings, settings_from_dict

__all__ = ["CrfConfig", "is_crf_available", "refine_labels"]

_UNAVAILABLE = "dense CRF is unavailable: install pydensecrf2 (pip install pydensecrf2) to use CRF refinement"


@dataclass(frozen=True)
class CrfConfig:
    """Dense-CRF settings.

    Attributes
    ----------
    iterations : int
        Mean-field inference steps (>= 1).
    gaussian_sxy : float
        Spatial std (pixels) of the smoothness kernel.
    gaussian_compat : float
        Potts weight of the smoothness kernel.
    bilateral_sxy : float
        Spatial std (pixels) of the appearance kernel.
    bilateral_srgb : float
        Colour std (0-255 units) of the appearance kernel.
    bilateral_compat : float
        Potts weight of the appearance kernel.
    gt_prob : float
        How sure the unary is of the given label when no probability maps are
        passed, in (0, 1).

    Notes
    -----
    Defaults are the usual DeepLab-style dense-CRF values (the RIS paper does
    not give its own), except ``gt_prob`` = 0.9, the best of the settings
    tried on 10 CVPPP training images with leafcount's model (SBD 59.4 with
    the CRF, 59.2 at 0.8, 58.6 without). The CRF gains little here because
    leafcount's masks are already refined at half resolution.
    """

    iterations: int = 5
    gaussian_sxy: float = 3.0
    gaussian_compat: float = 3.0
    bilateral_sxy: float = 40.0
    bilateral_srgb: float = 13.0
    bilateral_compat: float = 10.0
    gt_prob: float = 0.9

    def __post_init__(self) -> None:
        check_integer("iterations", self.iterations, 1)
        for name in ("gaussian_sxy", "bilateral_sxy", "bilateral_srgb"):
            check_number(name, getattr(self, name), "a number > 0", lambda v: v > 0)
        for name in ("gaussian_compat", "bilateral_compat"):
            check_number(name, getattr(self, name), "a number >= 0", lambda v: v >= 0)
        check_number("gt_prob", self.gt_prob, "a probability in (0, 1)", lambda v: 0 < v < 1)

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-ready dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CrfConfig:
        """Settings from :meth:`to_dict` output; missing keys take defaults.

        Raises
        ------
        ConfigError
            When a key is unknown or a value is out of range; names the key.
        """
        return settings_from_dict(cls, data, "CRF")

    @classmethod
    def for_checkpoint(cls, meta: Mapping[str, Any]) -> CrfConfig:
        """The CRF settings a checkpoint recommends (``meta["crf"]``, tuned on
        its training images by ``benchmarks/tune_crf.py``), else the defaults.

        The best appearance kernel depends on how sharp the model's masks
        already are, so it travels with the weights rather than the code.
        """
        return cls.from_dict(checkpoint_settings(meta, "crf"))


def _import_densecrf() -> tuple[ModuleType, ModuleType]:
    try:
        import pydensecrf.densecrf as densecrf
        import pydensecrf.utils as crf_utils
    except ImportError as exc:
        raise LeafcountError(_UNAVAILABLE) from exc
    return densecrf, crf_utils


def is_crf_available() -> bool:
    """Whether the dense CRF (``pydensecrf2``) can be imported here.

    Returns
    -------
    bool
        False when the package is missing or its compiled module fails to load.
    """
    try:
        _import_densecrf()
    except LeafcountError:
        return False
    return True


def _image_as_uint8(image: ArrayLike, shape: tuple[int, int]) -> np.ndarray:
    array = check_image(image, shape)
    # The bilateral kernel takes 8-bit colour, C-contiguous.
    return np.ascontiguousarray(np.round(np.clip(array, 0.0, 1.0) * 255.0).astype(np.uint8))


def _check_prob_stack(prob_stack: ArrayLike, n_classes: int, shape: tuple[int, int]) -> np.ndarray:
    array = np.asarray(prob_stack)
    expected = (n_classes, *shape)
    if array.shape != expected:
        raise LabelFormatError(
            f"prob_stack: expected shape {expected} (background + {n_classes - 1} leaves), found {array.shape}"
        )
    if not np.issubdtype(array.dtype, np.floating):
        raise LabelFormatError(f"prob_stack: expected float probabilities, found dtype {array.dtype}")
    if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
        raise LabelFormatError("prob_stack: expected probabilities in [0, 1], found values outside it or NaN")
    return array.astype(np.float32, copy=False)


def refine_labels(
    image: ArrayLike,
    labels: ArrayLike,
    prob_stack: ArrayLike | None = None,
    *,
    config: CrfConfig = CrfConfig(),
) -> np.ndarray:
    """Refine leaf labels with a fully connected CRF on the photo's colours.

    Parameters
    ----------
    image : array_like, shape (H, W, 3), float
        The RGB photo in [0, 1] (values outside are clipped).
    labels : array_like, shape (H, W), integer dtype
        Decoded labels, 0 = background; ids may have gaps.
    prob_stack : array_like, shape (n + 1, H, W), float, optional
        Per-class probabilities in [0, 1]: background first, then one map per
        leaf in increasing id order. Without it the unary terms come from
        ``labels``, trusted with probability ``config.gt_prob``.
    config : CrfConfig
        Kernel widths, weights and the number of inference steps.

    Returns
    -------
    numpy.ndarray, shape (H, W), int32
        Refined labels using the ids of ``labels`` (background stays 0). A
        leaf may lose all its pixels; no new id appears. Labels without any
        leaf come back unchanged.

    Raises
    ------
    LeafcountError
        When ``pydensecrf2`` cannot be imported (see :func:`is_crf_available`).
    LabelFormatError
        When ``labels`` is not a 2-D non-negative integer array, has an id
        beyond int32, its shape differs from the image's, or ``prob_stack``
        has the wrong shape or values.
    ImageReadError
        When ``image`` is not a finite (H, W, 3) float array.

    Notes
    -----
    Energy: unary ``-log p`` per pixel and class, plus Potts pairwise terms
    with a Gaussian kernel on position (``gaussian_*``) and a bilateral kernel
    on position and colour (``bilateral_*``); mean-field inference, then the
    most probable class per pixel. Memory grows as (n + 1) * H * W floats, so
    large photos with many leaves need a few GB.
    """
    leaf_ids, consecutive = relabel_consecutive(labels)
    if leaf_ids.size and leaf_ids[-1] > np.iinfo(np.int32).max:
        raise LabelFormatError(f"labels: leaf ids must fit int32, found {leaf_ids[-1]}")
    shape = consecutive.shape
    rgb = _image_as_uint8(image, shape)
    n_classes = leaf_ids.size + 1
    probabilities = _check_prob_stack(prob_stack, n_classes, shape) if prob_stack is not None else None
    densecrf, crf_utils = _import_densecrf()
    if leaf_ids.size == 0:
        return consecutive.astype(np.int32)

    if probabilities is not None:
        unary = crf_utils.unary_from_softmax(probabilities)
    else:
        unary = crf_utils.unary_from_labels(consecutive, n_classes, gt_prob=config.gt_prob, zero_unsure=False)
    height, width = shape
    crf = densecrf.DenseCRF2D(width, height, n_classes)
    crf.setUnaryEnergy(np.ascontiguousarray(unary, dtype=np.float32))
    crf.addPairwiseGaussian(sxy=config.gaussian_sxy, compat=config.gaussian_compat)
    crf.addPairwiseBilateral(
        sxy=config.bilateral_sxy, srgb=config.bilateral_srgb, rgbim=rgb, compat=config.bilateral_compat
    )
    marginals = np.asarray(crf.inference(config.iterations))
    best_class = np.argmax(marginals, axis=0).reshape(shape)
    class_to_id = np.concatenate(([0], leaf_ids)).astype(np.int32)
    return class_to_id[best_class]
