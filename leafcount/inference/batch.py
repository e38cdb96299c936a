"""Batch segmentation of many image files: in this process, in a local
process pool, or on a Dask cluster, with the same outputs either way.

Each worker loads the checkpoint once (cached per process) and writes its
image's label PNG and overlay itself, so only small records travel back.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import lru_cache
from multiprocessing.connection import wait
from pathlib import Path

import torch

from leafcount.analysis.plant_boxes import PlantBox
from leafcount.atomic import check_writable
from leafcount.cancel import CancelToken
from leafcount.data.cvppp import image_stem
from leafcount.data.folder import read_image_size
from leafcount.errors import Cancelled, LeafcountError
from leafcount.inference.crf import CrfConfig
from leafcount.inference.pipeline import PipelineSettings, read_working_photo, run_pipeline
from leafcount.inference.segment import SegmentConfig
from leafcount.io.corrections import save_corrections
from leafcount.io.overlay import overlay_labels, write_rgb_png
from leafcount.model.checkpoint import load_checkpoint


@dataclass(frozen=True)
class ImageOutcome:
    """What happened to one image: its leaf count and notes, or the error message."""

    image: Path
    leaf_count: int | None = None
    model: str = ""
    error: str | None = None
    plants: tuple[tuple[PlantBox, int], ...] = ()  # trays: each plant and its leaf count
    meta: dict = field(default_factory=dict)  # the sidecar's record of the run (leafcount.inference.run_meta)
    details: str = ""  # the traceback of an unexpected failure, for --verbose
    notes: tuple[str, ...] = ()  # what the user should know about this result (grey image, no plant, ...)


@lru_cache(maxsize=2)
def _load_model_version(model_path: str, mtime_ns: int, size: int):
    return load_checkpoint(model_path)


def _cached_model(model_path: str):
    """The checkpoint, loaded once per process and again only when the file changes
    (a long-lived Dask worker must not keep weights that were overwritten)."""
    try:
        stat = Path(model_path).stat()
    except OSError:
        return load_checkpoint(model_path)  # which says what is wrong with the path, as CheckpointError
    return _load_model_version(model_path, stat.st_mtime_ns, stat.st_size)


def segment_file(
    image_path: Path, out_dir: Path, model_path: Path, config: SegmentConfig, crf: bool, tray: str | None = None
) -> ImageOutcome:
    """Segment one image file and write ``<name>_label.png`` and ``<name>_overlay.png``.

    ``tray``: None or "off" for one plant per image, "auto" to look for the
    plants of a tray in each image (a single plant stays one plant), or
    "ROWSxCOLS" for trays of a known layout. The work is
    :func:`leafcount.inference.pipeline.segment_photo`'s: labels at the
    file's own size, plant boxes in its pixels, notes (grey photo, no plant,
    transparent pixels) in the outcome and the sidecar. The overlay preview
    keeps the size the photo was segmented at.

    Errors about this image (unreadable file, CRF unavailable) come back in
    the outcome instead of stopping the batch. Any other exception is a bug,
    but one image's bug must not cost the batch its other results: it comes
    back as an error too, with its traceback in ``details``.
    """
    image_path = Path(image_path)
    try:
        model, info = _cached_model(str(model_path))
        photo = read_working_photo(image_path)
        crf_config = CrfConfig.for_checkpoint(info.meta) if crf else None
        settings = PipelineSettings(config, crf_config, tray or "off", every_step=False)  # no slider to serve
        result = run_pipeline(model, info, photo, read_image_size(image_path), settings)
        write_rgb_png(Path(out_dir) / f"{image_stem(image_path)}_overlay.png", overlay_labels(photo.pixels, result.labels))
        meta = result.sidecar_meta()
        save_corrections(image_path, result.full_size_labels(), (), meta, out_dir)
        plants = tuple(zip(result.full_size_plants(), result.plant_leaf_counts()))
        return ImageOutcome(image_path, result.leaf_count, info.name, plants=plants, notes=result.notes,
                            meta=meta)
    except Cancelled:
        raise
    except LeafcountError as exc:
        return ImageOutcome(image_path, error=str(exc))
    except Exception as exc:  # noqa: BLE001 - see the docstring
        return _unexpected(image_path, exc)


def _unexpected(image_path: Path, exc: BaseException) -> ImageOutcome:
    message = f"unexpected failure, please report it ({type(exc).__name__}: {exc})"
    details = "".join(traceback.format_exception(exc))
    return ImageOutcome(image_path, error=str(LeafcountError(message, image_path)), details=details)


def _outcome_of(future, image_path: Path) -> ImageOutcome:
    """The future's outcome; a worker that died or a result that could not travel is this image's error."""
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - e.g. BrokenProcessPool when the system killed a worker
        return _unexpected(Path(image_path), exc)


PR_SET_PDEATHSIG = 1


def _init_worker(parent_pid: int) -> None:
    """One torch thread per process (one process per core: more would oversubscribe);
    Ctrl+C is the parent's to handle (it stops the pool); and die with the parent,
    even one killed with SIGKILL, instead of segmenting on for nobody."""
    torch.set_num_threads(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if not _kill_me_with_parent():
        threading.Thread(target=_exit_with_parent, args=(parent_pid,), name="parent-watchdog", daemon=True).start()
    if os.getppid() != parent_pid:  # it died before we could ask
        os._exit(1)


def _kill_me_with_parent() -> bool:
    """Linux: ask the kernel for SIGKILL when the parent dies; False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _exit_with_parent(parent_pid: int) -> None:
    """Watchdog thread: exit once the parent is gone (its sentinel closes on Windows
    and macOS; on POSIX an orphan also gets a new parent pid)."""
    parent = multiprocessing.parent_process()
    sentinels = [parent.sentinel] if parent is not None else []
    while os.getppid() == parent_pid and not wait(sentinels, timeout=1.0):
        pass
    os._exit(1)


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Drop the pending images and end the running ones now, rather than waiting for them
    (an interrupted write leaves only a hidden ``.partial`` file)."""
    processes = list((pool._processes or {}).values())  # no public way before Python 3.14's terminate_workers
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=5)


def segment_files(
    images: Sequence[Path],
    out_dir: Path,
    model_path: Path,
    config: SegmentConfig = SegmentConfig(),
    *,
    crf: bool = False,
    tray: str | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    on_result: Callable[[ImageOutcome], None] | None = None,
    cancel: CancelToken | None = None,
) -> list[ImageOutcome]:
    """Segment ``images`` into ``out_dir``; outcomes come back in input order.

    Parameters
    ----------
    workers : int, optional
        Local processes (default: the number of cores); 1 runs in this process.
    tray : str, optional
        "auto": trays are found image by image; "ROWSxCOLS": every image is
        a tray of that layout; None or "off": one plant per image.
    scheduler : str, optional
        Address of a Dask scheduler (``tcp://host:8786``); when given, the
        images are sent to that cluster's workers instead of a local pool.
    on_result : callable, optional
        Called in this process as each image finishes (for progress bars).
    cancel : CancelToken, optional
        Checked as results arrive; pending images are dropped.

    Raises
    ------
    CheckpointError
        When the model cannot be loaded: one error, before any image is read.
    LeafcountError
        When ``out_dir`` cannot be created or written to (read-only,
        forbidden): before any image is read.
    """
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LeafcountError(f"cannot create the output folder ({exc.strerror or exc})", out_dir) from exc
    check_writable(out_dir)
    # A checkpoint that does not fit its network fails once, not per image; and where the pool forks
    # (Linux), its workers inherit the loaded model instead of each loading it again.
    _cached_model(str(model_path))
    done: dict[int, ImageOutcome] = {}
    emit = on_result or (lambda outcome: None)
    args = (out_dir, Path(model_path), config, crf, tray)
    if scheduler:
        from distributed import Client
        from distributed import as_completed as dask_completed

        with Client(scheduler) as client:
            futures = {client.submit(segment_file, path, *args, pure=False): i for i, path in enumerate(images)}
            for future in dask_completed(futures):
                done[futures[future]] = outcome = _outcome_of(future, images[futures[future]])
                emit(outcome)
                if cancel is not None and cancel.is_set():
                    client.cancel(list(futures))
                    cancel.raise_if_cancelled()
        return [done[i] for i in range(len(images))]
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(images) <= 1:
        for i, path in enumerate(images):
            if cancel is not None:
                cancel.raise_if_cancelled()
            done[i] = outcome = segment_file(path, *args)
            emit(outcome)
        return [done[i] for i in range(len(images))]
    with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(os.getpid(),)) as pool:
        futures = {pool.submit(segment_file, path, *args): i for i, path in enumerate(images)}
        try:
            for future in as_completed(futures):
                done[futures[future]] = outcome = _outcome_of(future, images[futures[future]])
                emit(outcome)
                if cancel is not None:
                    cancel.raise_if_cancelled()
        except BaseException:  # Ctrl+C, SIGTERM, cancel
            _stop_workers(pool)
            raise
    return [done[i] for i in range(len(images))]
