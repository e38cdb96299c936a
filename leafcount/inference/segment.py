"""Step-by-step inference: the network finds one leaf per recurrent step.

:func:`segment_steps` is a generator so a GUI (or a progress bar) can show
each leaf the moment it is found. The steps keep every mask and score, so
:func:`decode_steps` can turn them into labels for any stop threshold
without running the network again.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import os
import queue
import threading
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np
import torch
from skimage.measure import label as connected_pieces
from skimage.segmentation import watershed

from leafcount.cancel import CancelToken
from leafcount.errors import ConfigError, ImageReadError, LabelFormatError
from leafcount.model.ris import RIS, Encoded
from leafcount.inference.basins import basin_leaves
from leafcount.inference.centres import MIN_SEED_PIXELS
from leafcount.inference.heads_window import cut_off, pasted, plant_window
from leafcount.resize import Box, letterbox_planes, resize_array
from leafcount.settings import check_choice, check_flag, check_integer, check_number, checkpoint_settings, settings_from_dict

ASSIGNMENTS = ("first", "argmax", "grow", "basins", "centres")
GROW_WORKING_SIDE = 2048
""""grow" decodes at most this many pixels along the longer side, then scales the labels up."""
FLIP_COUNTS = (1, 2, 4)


@dataclass(frozen=True)
class SegmentConfig:
    """Inference settings; the defaults are the paper's (section 3.4).

    The network keeps stepping until s_t falls below ``stop_floor`` (or
    ``max_steps``), below any stop threshold a user would pick, so moving
    the threshold later never needs a rerun.
    """

    mask_threshold: float = 0.5
    stop_threshold: float = 0.5
    max_steps: int = 40  # above the densest rosettes seen (28 leaves by eye): the stop, not a cap, ends a run
    stop_floor: float = 0.05
    assignment: str = "first"
    flips: int = 1  # 1: one pass; 2 or 4: also mirrored copies, fused (leafcount.inference.flips)
    dense_flips: int = 1  # mirrored copies averaged into the foreground/boundary maps (encoder only)
    core_threshold: float = 0.5  # "grow", "basins", "centres": leaf interior is where the boundary map is below it
    core_min_share: float = 0.0  # "basins", "centres": a core under this share of the median core seeds no basin
    centre_threshold: float = 0.5  # "centres": a leaf's centre is where the centre map is above it
    centre_min_pixels: int = MIN_SEED_PIXELS  # "centres": a smaller peak (maps' pixels) splits no basin
    fragment_threshold: float = 0.0  # "centres": a basin whose centre map stays below it is a piece of a neighbour
    steps_split: bool = True  # "basins", "centres": the steps may split basins to reach their count
    heads_on_plant: bool = True  # full-resolution heads on the plant's window only (inference.heads_window)

    def __post_init__(self) -> None:
        for name in ("mask_threshold", "stop_threshold", "stop_floor", "core_threshold", "core_min_share",
                     "centre_threshold", "fragment_threshold"):
            check_number(name, getattr(self, name), "in [0, 1]", lambda v: 0.0 <= v <= 1.0)
        check_flag("steps_split", self.steps_split)
        check_flag("heads_on_plant", self.heads_on_plant)
        check_integer("max_steps", self.max_steps, 1)
        check_integer("centre_min_pixels", self.centre_min_pixels, 1)
        for name in ("flips", "dense_flips"):
            check_choice(name, getattr(self, name), FLIP_COUNTS)
        check_choice("assignment", self.assignment, ASSIGNMENTS)

    def replace(self, **changes: object) -> "SegmentConfig":
        return dataclasses.replace(self, **changes)

    @classmethod
    def for_checkpoint(cls, meta: Mapping[str, object]) -> "SegmentConfig":
        """The decoding a checkpoint recommends (``meta["segment"]``, tuned on its
        training images by ``benchmarks/tune_decoding.py``), else the paper's."""
        return settings_from_dict(cls, checkpoint_settings(meta, "segment"), "segment")


@dataclass(frozen=True)
class Step:
    """One recurrent step, as plain CPU arrays.

    ``mask`` (float32 in [0, 1]) covers the whole image at the network's
    output resolution (aspect ratio of the image); ``kappa`` covers it at the
    recurrent grid resolution. Use :func:`mask_at` for the image size.

    ``foreground`` and ``boundary`` are the network's dense per-pixel maps of
    the whole image (plant and leaf-edge probabilities, at the mask
    resolution or, from full-resolution heads, about the image's) when it
    has them: computed once per image, the same arrays on every step of a run, so whatever keeps the steps can decode
    them with ``assignment="grow"``. ``centre`` is the heads' leaf-centre map
    when they have one (``ModelConfig.dense_centres``), for ``"centres"``.
    """

    index: int
    mask: np.ndarray
    score: float
    kappa: np.ndarray
    foreground: np.ndarray | None = None
    boundary: np.ndarray | None = None
    centre: np.ndarray | None = None


DenseMaps = tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]
"""Plant foreground, leaf boundary and leaf centre over the image (None where the network has no such map)."""


def image_to_tensor(image: np.ndarray, input_size: tuple[int, int], multiple: int = 1) -> tuple[torch.Tensor, Box]:
    """Letterbox an (H, W, 3) image into the network input (1, 3, h, w), the
    content box on whole pixels of a map at stride ``multiple``."""
    if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 1:
        raise ImageReadError(f"expected an (H, W, 3) image, got shape {image.shape}")
    planes, box = letterbox_planes(np.asarray(image, dtype=np.float32), input_size, multiple)
    return planes[None], box


def content_boxes(model: RIS, box: Box) -> tuple[Box, Box]:
    """The image's content box on the mask grid and on the recurrent grid (``box``: on the network's input)."""
    cfg = model.config
    out_box = box.scaled(cfg.output_size[0] / cfg.input_size[0], cfg.output_size[1] / cfg.input_size[1])
    grid_box = box.scaled(cfg.grid_size[0] / cfg.input_size[0], cfg.grid_size[1] / cfg.input_size[1])
    return out_box, grid_box


def _full_resolution_maps(model: RIS, image: np.ndarray, encoded: Encoded | None,
                          plant_grid_box: Box | None = None) -> DenseMaps:
    """Foreground, boundary (and centre) from the full-resolution heads, run at their own input size
    (``encoded``: the image's encoding, whose context some heads read). With ``plant_grid_box`` (the
    image's box on the mask grid; ``encoded`` then carries the encoder's foreground), the heads run on
    the plant's window only (:mod:`leafcount.inference.heads_window`), and again on the whole input
    where the plant they find reaches the window's side."""
    tensor, box = image_to_tensor(image, model.config.dense_input_size)
    shape = tuple(tensor.shape[-2:])
    device = next(model.parameters()).device

    def probabilities(heads_input: torch.Tensor) -> np.ndarray:
        return torch.sigmoid(model.dense_logits(heads_input.to(device), encoded)[0]).cpu().numpy()

    window = None
    if plant_grid_box is not None:
        window = plant_window(encoded.aux_logits[0, 0].cpu().numpy(), plant_grid_box, box, shape)
    maps = None
    if window is not None:
        dense = probabilities(tensor[..., window[0], window[1]])
        if not cut_off(dense[0], window, shape):  # else the plant goes on: the whole input
            maps = pasted(dense, window, box)
    if maps is None:
        maps = [box.crop(channel).copy() for channel in probabilities(tensor)]
    return maps[0], maps[1], maps[2] if len(maps) > 2 else None


def _dense_maps(model: RIS, encoded: Encoded, image: np.ndarray, out_box: Box, on_plant: bool = False) -> DenseMaps:
    """Plant foreground and leaf-boundary probabilities over the image: from
    the full-resolution heads when the network has them (on the plant's
    window with ``on_plant``, ``encoded`` then carrying the encoder's
    foreground), else from the encoder's heads (at the mask resolution), else none."""
    if model.dense is not None:
        return _full_resolution_maps(model, image, encoded, out_box if on_plant else None)
    if encoded.aux_logits is None:
        return None, None, None
    dense = torch.sigmoid(encoded.aux_logits[0]).cpu().numpy()
    return out_box.crop(dense[0]).copy(), out_box.crop(dense[1]).copy(), None


class _HeadsThread:
    """A daemon thread that runs one heads job at a time, kept between runs.

    With a new thread at every run the overlap gained nothing measurable (speed.py's app pipeline:
    323 ms to the labels one after the other, 327 side by side); with this one kept, 359 -> 300 ms
    (medians of 18). A daemon: it holds no work a run does not wait for, so it must not keep the
    process alive (``leafcount``'s quick exit waits for threads that are still working).
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._serve, name="leafcount-heads", daemon=True).start()

    def submit(self, job: Callable[[], DenseMaps]) -> Future:
        future: Future = Future()
        self._jobs.put((future, job))
        return future

    def _serve(self) -> None:
        while True:
            future, job = self._jobs.get()
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(job())
                except BaseException as exc:  # noqa: BLE001 - handed to the run that waits for it
                    future.set_exception(exc)


_heads_thread: _HeadsThread | None = None


def _forget_heads_thread() -> None:
    global _heads_thread
    _heads_thread = None  # a forked child has the object but not the thread


os.register_at_fork(after_in_child=_forget_heads_thread)


@contextlib.contextmanager
def _heads_on_second_thread(model: RIS, image: np.ndarray, encoded: Encoded | None,
                            plant_grid_box: Box | None) -> Iterator[Future]:
    """The full-resolution heads' maps of ``image`` (as :func:`_full_resolution_maps` makes them),
    computed on a thread of their own while the caller runs the steps; both threads run torch on one
    thread each until the block ends.

    The steps' maps are small, so two torch threads halve little of their time, while the heads alone
    fill a core: side by side the labels of a window's run come about 1.2x sooner on two cores. Leaving
    the block waits for the heads (a cancelled run too: a fraction of a second)."""

    def heads() -> DenseMaps:
        torch.set_num_threads(1)
        with torch.inference_mode():
            return _full_resolution_maps(model, image, encoded, plant_grid_box)

    global _heads_thread
    if _heads_thread is None:
        _heads_thread = _HeadsThread()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    future = _heads_thread.submit(heads)
    try:
        yield future
    finally:
        concurrent.futures.wait([future])
        torch.set_num_threads(threads)


def dense_maps(model: RIS, image: np.ndarray) -> DenseMaps:
    """The network's foreground, boundary and centre maps of ``image`` (no
    recurrent step), like :attr:`Step.foreground`."""
    with torch.inference_mode():
        if model.dense is not None and not model.config.dense_context:
            return _full_resolution_maps(model, image, None)
        tensor, box = image_to_tensor(image, model.config.input_size, model.config.output_stride)
        encoded = model.encode(tensor.to(next(model.parameters()).device), aux=model.dense is None)
        return _dense_maps(model, encoded, image, content_boxes(model, box)[0])


def segment_steps(
    model: RIS,
    image: np.ndarray,
    config: SegmentConfig = SegmentConfig(),
    cancel: CancelToken | None = None,
    dense_last: bool = False,
    dense_below: float | None = None,
    heads_alongside: bool = False,
) -> Generator[Step, None, DenseMaps]:
    """Yield one :class:`Step` per recurrent step of ``model`` on ``image``;
    return the dense maps.

    Parameters
    ----------
    model : RIS
        The network (its ``config.input_size`` decides the working size).
    image : ndarray, shape (H, W, 3), float32 in [0, 1]
        Any size; letterboxed into the input size, aspect kept.
    config : SegmentConfig
        ``max_steps`` and ``stop_floor`` end the sequence.
    cancel : CancelToken, optional
        Checked between steps; raises :class:`~leafcount.errors.Cancelled`.
    dense_last : bool
        Run the full-resolution heads after the last step instead of before
        the first. They take about 60% of a run, so a window showing the
        steps as they come shows the first leaf that much sooner. The steps
        then carry no maps: give them the returned ones with
        :func:`with_dense_maps` before decoding.
    dense_below : float, optional
        With ``dense_last``: run the heads as soon as a step's score falls
        below this instead (the stop threshold), and give their maps to that
        step and the ones after it. The steps before it and that step are all
        :func:`decode_steps` keeps, so a window can show the labels then and
        let the network run on for the threshold slider.
    heads_alongside : bool
        With ``dense_last``: compute the heads on a second thread while the
        steps run (and the encoder, when the heads run on the whole image
        and need nothing from it), each thread with one torch thread (for a
        window that segments one photo at a time on two or more cores; a
        batch already gives each core a photo of its own). The same steps
        and maps; the first step comes a little later, the labels sooner.
        Heads that read the encoder's context run as without.

    Notes
    -----
    The encoder runs once; each step runs only the ConvLSTMs and the heads.
    """
    cfg = model.config
    tensor, box = image_to_tensor(image, cfg.input_size, cfg.output_stride)
    device = next(model.parameters()).device
    out_box, grid_box = content_boxes(model, box)
    own_heads = model.dense is not None and not cfg.dense_context  # heads that read nothing of the encoding
    beside = dense_last and heads_alongside and own_heads
    on_plant = config.heads_on_plant and own_heads
    with torch.inference_mode(), contextlib.ExitStack() as stack:
        heads: Future | None = None  # the heads' maps, on a second thread

        def pending_maps() -> DenseMaps:
            return heads.result() if heads is not None else _dense_maps(model, encoded, image, out_box, on_plant)

        if beside and not on_plant:  # the heads need nothing from the encoder: start them with it
            heads = stack.enter_context(_heads_on_second_thread(model, image, None, None))
        # The encoder's own foreground says where the plant is: the heads run there only.
        encoded = model.encode(tensor.to(device), aux=model.dense is None or on_plant)
        if beside and on_plant:
            heads = stack.enter_context(_heads_on_second_thread(model, image, encoded, out_box))
        maps: DenseMaps = (None, None, None) if dense_last else _dense_maps(model, encoded, image, out_box, on_plant)
        maps_pending = dense_last
        state = model.initial_state(encoded)
        canvas = model.initial_canvas(encoded)
        for index in range(config.max_steps):
            if cancel is not None:
                cancel.raise_if_cancelled()
            out, state, canvas = model.step(encoded, state, canvas)
            score = float(torch.sigmoid(out.score_logit[0]))
            mask = torch.sigmoid(out.mask_logits[0]).cpu().numpy()
            kappa = grid_box.crop(out.kappa[0].cpu().numpy()).copy()
            if maps_pending and dense_below is not None and score < dense_below:
                maps, maps_pending = pending_maps(), False
            yield Step(index, out_box.crop(mask).copy(), score, kappa, *maps)
            if score < config.stop_floor:
                break
        if maps_pending:
            if cancel is not None:
                cancel.raise_if_cancelled()
            maps = pending_maps()
    return maps


def with_dense_maps(steps: Sequence[Step], maps: DenseMaps) -> list[Step]:
    """``steps`` carrying ``maps`` (as :func:`segment_steps` returns them)."""
    foreground, boundary, centre = maps
    return [dataclasses.replace(step, foreground=foreground, boundary=boundary, centre=centre) for step in steps]


def mask_at(step: Step, image_shape: tuple[int, int]) -> np.ndarray:
    """The step's mask probability resized to ``image_shape`` (H, W)."""
    return resize_array(step.mask, tuple(image_shape[:2]))


def accepted_steps(steps: Sequence[Step], stop_threshold: float) -> list[Step]:
    """The steps before the first one whose score is below the threshold."""
    kept = []
    for step in steps:
        if step.score < stop_threshold:
            break
        kept.append(step)
    return kept


def decode_steps(
    steps: Sequence[Step],
    image_shape: tuple[int, int],
    config: SegmentConfig = SegmentConfig(),
    focus: Box | None = None,
) -> np.ndarray:
    """Turn steps into an (H, W) int32 label image at the image's size.

    Parameters
    ----------
    steps : sequence of Step
        As yielded by :func:`segment_steps`.
    image_shape : (H, W)
        The original image size.
    config : SegmentConfig
        ``stop_threshold``: steps are kept up to the first score below it.
        ``mask_threshold``: a pixel joins a leaf when y_t > threshold.
        ``assignment``: "first" keeps a pixel with the earliest step that
        claims it (paper); "argmax" gives it to the kept step with the
        highest y_t; "grow" lets RIS say which leaves exist and where their
        cores lie, and the dense maps say which pixel belongs to which
        (:func:`grow_leaves`); "basins" takes the leaves from the boundary
        map's watershed basins and lets the steps split and merge them to
        their own count (:func:`~leafcount.inference.basins.basin_leaves`;
        a core under ``core_min_share`` of the plant's median core seeds no basin);
        "centres" also splits a basin at the centre map's peaks when it
        holds two or more (:func:`~leafcount.inference.centres.split_at_centres`)
        (peaks of at least ``centre_min_pixels`` pixels of the maps) and
        joins a basin whose centre map stays below ``fragment_threshold`` to
        a neighbour; ``steps_split`` False lets the steps merge basins but
        never split one. Steps without
        dense maps fall back to "argmax" for these, steps without a
        centre map from "centres" to "basins".
    focus : Box, optional
        Where the plant lies in the image, when the image may also hold a
        bigger plant (a tray plant's crop): "basins" and "centres" then keep
        the foreground piece inside it (:func:`~leafcount.inference.basins.plant_pixels`).

    Returns
    -------
    ndarray, shape (H, W), int32
        Leaf id = step index + 1 ("basins": a leaf no step matches takes an id
        after the last step's); 0 = background.

    Raises
    ------
    ConfigError
        When ``image_shape`` is not two integers >= 1.
    LabelFormatError
        When a step's mask is not a non-empty 2-D array.
    """
    shape = tuple(image_shape[:2])
    if len(shape) != 2 or not all(isinstance(v, (int, np.integer)) and v >= 1 for v in shape):
        raise ConfigError(f"image_shape must be (H, W) with H, W >= 1, got {tuple(image_shape)}")
    shape = (int(shape[0]), int(shape[1]))
    for step in steps:
        if np.ndim(step.mask) != 2 or np.size(step.mask) == 0:
            raise LabelFormatError(
                f"step {step.index}: the mask must be a non-empty 2-D array, got shape {np.shape(step.mask)}"
            )
    kept = accepted_steps(steps, config.stop_threshold)
    if config.assignment == "grow" and kept and kept[0].foreground is not None:
        return grow_leaves(kept, shape, config.mask_threshold, config.core_threshold)
    if config.assignment in ("basins", "centres") and kept and kept[0].foreground is not None:
        work = kept[0].foreground.shape
        probs = [step.mask for step in kept]  # resized on the plant's box alone
        centre = kept[0].centre if config.assignment == "centres" else None
        work_focus = None if focus is None else focus.scaled(work[0] / shape[0], work[1] / shape[1])
        labels = basin_leaves(
            probs, [step.index + 1 for step in kept], kept[0].foreground, kept[0].boundary,
            mask_threshold=config.mask_threshold, core_threshold=config.core_threshold, centre=centre,
            centre_threshold=config.centre_threshold, steps_split=config.steps_split,
            fragment_threshold=config.fragment_threshold, focus=work_focus,
            centre_min_pixels=config.centre_min_pixels, core_min_share=config.core_min_share)
        return labels if work == shape else resize_array(labels, shape, nearest=True)
    labels = np.zeros(shape, dtype=np.int32)
    best = np.zeros(shape, dtype=np.float32)
    for step in kept:
        prob = mask_at(step, shape)
        claims = prob > config.mask_threshold
        if config.assignment == "first":
            claims &= labels == 0
        else:
            claims &= prob > best
            best[claims] = prob[claims]
        labels[claims] = step.index + 1
    return labels


def grow_leaves(
    steps: Sequence[Step], shape: tuple[int, int], mask_threshold: float = 0.5, core_threshold: float = 0.5
) -> np.ndarray:
    """Labels where RIS decides the leaves and the dense maps decide the pixels.

    Each kept step's argmax region, cut to the pixels the foreground map
    calls plant and the boundary map calls leaf interior, and reduced to its
    largest connected piece, seeds one leaf; a watershed on the boundary map
    then grows the seeds over the plant. So a step that spilled over a leaf
    edge loses the spill to the leaf behind that edge, no pixel outside the
    plant becomes leaf (a colour card the foreground map rejects stays
    background even where a step claimed it), and a step whose mask lies
    wholly off the plant gives no leaf.

    Parameters
    ----------
    steps : sequence of Step
        The kept steps, with ``foreground`` and ``boundary`` maps.
    shape : (H, W)
        The image size; work is done at most :data:`GROW_WORKING_SIDE` long.
    mask_threshold : float
        A pixel can seed a step's leaf where y_t exceeds it.
    core_threshold : float
        ... and where the boundary map is below this. Full-resolution
        boundary maps mark the faint edge between two touching leaves with
        probabilities well below 0.5; a low value keeps a seed from
        crossing it.
    """
    scale = min(1.0, GROW_WORKING_SIDE / max(shape))
    work = (max(1, round(shape[0] * scale)), max(1, round(shape[1] * scale)))
    plant = resize_array(steps[0].foreground, work) > 0.5
    edges = resize_array(steps[0].boundary, work)
    seeds = np.zeros(work, dtype=np.int32)
    best = np.zeros(work, dtype=np.float32)
    for step in steps:
        prob = mask_at(step, work)
        claims = (prob > mask_threshold) & (prob > best)
        best[claims] = prob[claims]
        seeds[claims] = step.index + 1
    seeds[~plant] = 0
    interior = np.where(edges < core_threshold, seeds, 0)
    # A thin leaf can lie wholly on the boundary map: it keeps its plant pixels as its seed.
    thin = np.setdiff1d(np.unique(seeds), np.unique(interior))
    seeds = np.where(np.isin(seeds, thin), seeds, interior)
    pieces, n_pieces = connected_pieces(seeds, background=0, connectivity=1, return_num=True)
    if n_pieces:
        sizes = np.bincount(pieces.ravel(), minlength=n_pieces + 1)
        leaf_of_piece = np.zeros(n_pieces + 1, dtype=np.int32)
        leaf_of_piece[pieces.ravel()] = seeds.ravel()
        largest = np.zeros(int(leaf_of_piece.max()) + 1, dtype=np.int64)
        keep = np.zeros(n_pieces + 1, dtype=bool)
        for piece in np.argsort(-sizes[1:], kind="stable") + 1:  # the biggest piece of each leaf first
            if largest[leaf_of_piece[piece]] == 0:
                largest[leaf_of_piece[piece]] = piece
                keep[piece] = True
        seeds = np.where(keep[pieces], seeds, 0).astype(np.int32)
    grown = watershed(edges, seeds, mask=plant).astype(np.int32)
    return grown if work == tuple(shape) else resize_array(grown, shape, nearest=True)

