"""The ``leafcount`` command line: segment, evaluate, train, synth.

Only this edge turns errors into messages: each bad file gets one line on
stderr (the traceback with ``--verbose``) and the batch goes on.
"""

from __future__ import annotations

import argparse
import atexit
import csv
import io
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import torch
from tqdm import tqdm

from leafcount.atomic import write_text_atomic
from leafcount.cancel import CancelToken
from leafcount.errors import Cancelled, ConfigError, LeafcountError
from leafcount.inference.segment import ASSIGNMENTS

if TYPE_CHECKING:
    from leafcount.experiment import MetadataJoin
    from leafcount.inference.batch import ImageOutcome

log = logging.getLogger("leafcount")


def _csv_text(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _model_path(arg: str | None) -> Path:
    from leafcount.model.checkpoint import find_default_model

    if arg:
        return Path(arg)
    found = find_default_model()
    if found is None:
        raise ConfigError("no model given and none in models/: pass --model CKPT")
    return found


def _collect_images(inputs: Sequence[str]) -> list[Path]:
    from leafcount.data.folder import list_images

    images: list[Path] = []
    for item in inputs:
        path = Path(item)
        images.extend(list_images(path) if path.is_dir() else [path])
    return images


def cmd_segment(args: argparse.Namespace) -> int:
    from leafcount.inference.batch import segment_files
    from leafcount.model.checkpoint import read_checkpoint_info
    from leafcount.inference.segment import SegmentConfig

    model_path = _model_path(args.model)
    info = read_checkpoint_info(model_path)  # a bad checkpoint is one clear error before any work starts
    given = {key: getattr(args, key) for key in ("stop_threshold", "mask_threshold", "assignment", "max_steps", "flips", "dense_flips")}
    config = SegmentConfig.for_checkpoint(info.meta).replace(**{k: v for k, v in given.items() if v is not None})
    if args.crf:
        from leafcount.inference.crf import is_crf_available

        if not is_crf_available():
            raise ConfigError("--crf: dense CRF is unavailable (pydensecrf2 is not installed)")
    if args.tray not in ("auto", "off"):
        from leafcount.inference.tray import parse_grid

        parse_grid(args.tray)  # a bad layout is one clear error before any work starts
    join = _metadata_join(args.metadata)
    images = _collect_images(args.inputs)
    out = Path(args.out)
    bar = tqdm(total=len(images), desc="segment", unit="image", disable=args.quiet)
    finished: list[ImageOutcome] = []

    def on_result(outcome: ImageOutcome) -> None:
        finished.append(outcome)
        bar.update(1)
        if outcome.error:
            bar.write(f"error: {outcome.error}", file=sys.stderr)
            if args.verbose and outcome.details:
                bar.write(outcome.details.rstrip(), file=sys.stderr)
        for note in outcome.notes:
            bar.write(f"warning: {outcome.image.name}: {note}", file=sys.stderr)

    # `kill`'s or a job scheduler's SIGTERM stops like Ctrl+C: workers ended, counts.csv for what was done.
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        outcomes = segment_files(images, out, model_path, config, crf=args.crf, tray=args.tray, workers=args.workers,
                                 scheduler=args.scheduler, on_result=on_result)
    except (Cancelled, KeyboardInterrupt):
        if finished:
            order = {path: i for i, path in enumerate(images)}
            _write_counts(out, sorted(finished, key=lambda o: order[o.image]), join)
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
        bar.close()
    done, failures, kept = _write_counts(out, outcomes, join)
    print(f"{len(done)} image(s) segmented into {out}" + (f", {failures} failed" if failures else "")
          + (f"; counts.csv still lists the {kept} image(s) of an earlier run whose labels are there" if kept else ""))
    return 1 if failures else 0


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise Cancelled("stopped by SIGTERM")


def _metadata_join(path: str | None) -> MetadataJoin | None:
    """``--metadata``: the experiment's table, read before any work starts (a bad one is one clear error)."""
    if not path:
        return None
    from leafcount.experiment import MetadataJoin

    return MetadataJoin.read(path)


def _warn_mismatches(join: MetadataJoin | None, table) -> None:
    if join is not None:
        for message in join.mismatches(join.keys(table)):
            print(f"warning: {message}", file=sys.stderr)


def _write_counts(
    out: Path, outcomes: Sequence[ImageOutcome], join: MetadataJoin | None = None
) -> tuple[list[ImageOutcome], int, int]:
    """Write ``out/counts.csv`` (:mod:`leafcount.analysis.counts`, the report's schema, with
    the metadata's columns when ``join`` is given): rows for the images that succeeded now,
    plus the rows of an earlier run for images not redone whose label PNG is still in
    ``out``, so the file describes every label set there (a rerun that fails, on a full
    disk say, must not erase good results). Returns the images done, the number that
    failed and the number of earlier images kept."""
    from leafcount.analysis.counts import count_row, counts_table, write_table

    done = [o for o in outcomes if o.error is None]
    by_image = _earlier_counts(out)
    earlier = set(by_image)
    for o in done:  # a row per plant; a single-plant image keeps one row, plant fields empty
        by_image[o.image.name] = [count_row(o.image.name, n, "model", o.meta, box) for box, n in o.plants] or [
            count_row(o.image.name, o.leaf_count, "model", o.meta)]
    table = counts_table([row for image_rows in by_image.values() for row in image_rows])
    if join is not None:
        _warn_mismatches(join, table)
        table = join(table)
    write_table(out / "counts.csv", table)
    return done, len(outcomes) - len(done), len(earlier - {o.image.name for o in done})


def _earlier_counts(out: Path) -> dict[str, list[dict[str, str]]]:
    """The rows of ``out/counts.csv`` by image, for the images whose label PNG is still there."""
    from leafcount.data.cvppp import label_path_for

    path = out / "counts.csv"
    by_image: dict[str, list[dict[str, str]]] = {}
    try:
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if row.get("image") and label_path_for(row["image"], out).is_file():
                    by_image.setdefault(row["image"], []).append(row)
    except FileNotFoundError:
        pass
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        print(f"warning: {path.name}: the earlier file is unreadable ({exc}), replaced", file=sys.stderr)
        return {}
    return by_image


def cmd_evaluate(args: argparse.Namespace) -> int:
    import numpy as np

    from leafcount.data.cvppp import read_labels
    from leafcount.analysis.metrics import format_summary, score_image, summarize

    pred_dir, truth_dir = Path(args.pred), Path(args.truth)
    preds = {p.name: p for p in pred_dir.glob("*_label.png") if not p.name.startswith(".")}
    if not preds:
        raise ConfigError(f"no *_label.png predictions in {pred_dir}")
    # A plant the model was never run on is one it missed: leaving it out would flatter the scores.
    unpredicted = sorted(p.name for p in truth_dir.glob("*_label.png") if not p.name.startswith(".")
                         and p.name not in preds)
    scores, notes, failures = [], {}, 0
    for file_name in sorted([*preds, *unpredicted]):
        name = file_name[: -len("_label.png")]
        try:
            truth_path = truth_dir / file_name
            if file_name not in preds:
                if args.only_predicted:
                    print(f"warning: {file_name}: no prediction, left out (--only-predicted)", file=sys.stderr)
                    continue
                truth = read_labels(truth_path)
                scores.append(score_image(np.zeros_like(truth), truth, name))
                notes[name] = "no prediction"
                print(f"warning: {file_name}: no prediction, counted as a missed plant (every true leaf missed)",
                      file=sys.stderr)
                continue
            if not truth_path.is_file():
                raise LeafcountError("no ground truth of the same name in the truth folder", preds[file_name])
            scores.append(score_image(read_labels(preds[file_name]), read_labels(truth_path), name))
        except LeafcountError as exc:
            failures += 1
            _report(exc if exc.path else LeafcountError(str(exc), truth_dir / file_name), args)  # name the file
    if not scores:
        raise ConfigError("no prediction could be scored")
    header = ("image", "count_pred", "count_true", "dic", "abs_dic", "sbd", "fbd", "note")
    rows = [(s.name, s.count_pred, s.count_true, s.dic, s.abs_dic, f"{s.sbd:.4f}", f"{s.fbd:.4f}",
             notes.get(s.name, "")) for s in scores]
    out = Path(args.out) if args.out else pred_dir / "metrics.csv"
    write_text_atomic(out, _csv_text(header, rows))
    summary = format_summary(summarize(scores))
    if not unpredicted:
        missing = ""
    elif args.only_predicted:
        missing = f"; {len(unpredicted)} without a prediction left out (--only-predicted)"
    else:
        missing = f", {len(notes)} of them without a prediction (counted as missed)"
    print(f"{len(scores)} image(s){missing}; per-image scores in {out}")
    for key, text in summary.items():
        print(f"  {key:8s} {text}")
    return 1 if failures else 0


def cmd_train(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)  # every rank builds the same initial weights
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # launched by torchrun
        import torch.distributed as dist

        dist.init_process_group("gloo")
        try:
            code = _train(args)
            dist.barrier()  # rank 0 may still be saving; tearing gloo down under it aborts the process
            return code
        finally:
            dist.destroy_process_group()
    return _train(args)


def _device(choice: str) -> str:
    """``auto``: a CUDA GPU when torch sees one, else the CPU."""
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: torch sees no CUDA GPU on this machine")
    return choice


def _train(args: argparse.Namespace) -> int:
    from leafcount.data.augment import AugmentConfig
    from leafcount.model.checkpoint import load_checkpoint, read_checkpoint_info
    from leafcount.model.config import ModelConfig
    from leafcount.model.ris import build_ris
    from leafcount.train import (
        TrainConfig,
        Trainer,
        export_state,
        load_pairs,
        resume_path,
        run_training,
    )

    meta: dict[str, object] = {"data": str(args.data)}
    if args.export:
        if not resume_path(args.out).is_file():
            raise ConfigError(f"--export: no training state at {resume_path(args.out)}")
        if args.init:
            parent = read_checkpoint_info(args.init)
            meta["parent"] = parent.name
            if "segment" in parent.meta:
                meta["segment"] = parent.meta["segment"]
        iteration = export_state(resume_path(args.out), args.out, meta)
        print(f"wrote {args.out} (the weights of iteration {iteration})")
        return 0
    trainer_class = Trainer
    trainer_args: tuple = ()
    if (args.dense_heads or args.distill_heads) and not args.init:
        raise ConfigError("--dense-heads and --distill-heads train heads on top of a trained model: give it with --init")
    if args.dense_heads and args.distill_heads:
        raise ConfigError("--distill-heads builds its heads from the --init model's: leave out --dense-heads")
    if args.init:
        model, info = load_checkpoint(args.init)
        meta["parent"] = info.name
        if args.distill_heads:
            from leafcount.distill_heads import HeadsDistiller, with_context_heads
            from leafcount.inference.segment import SegmentConfig

            if model.dense is None or model.config.dense_context:  # before reading pairs at the heads' size
                raise ConfigError("--distill-heads: the --init model needs full-resolution heads with their own backbone")
            train_pairs, val_pairs = load_pairs(Path(args.data), model.config.dense_input_size, args.val_split,
                                                seed=args.seed)
            teacher = model.dense
            model = with_context_heads(model, [pair.image for pair in train_pairs])
            trainer_class, trainer_args = HeadsDistiller, (teacher, SegmentConfig.for_checkpoint(info.meta))
        elif args.dense_heads:
            from leafcount.train_dense import DenseTrainer, with_centre_map, with_dense_heads

            h, w = (int(v) for v in args.dense_heads.lower().split("x"))
            if model.dense is None:
                model = with_dense_heads(model, (h, w), pretrained=not args.no_imagenet)
            elif model.config.dense_input_size != (h, w):
                raise ConfigError(f"--dense-heads {h}x{w}: the --init model's heads run at "
                                  f"{model.config.dense_input_size[0]}x{model.config.dense_input_size[1]}")
            if args.dense_centres and not model.config.dense_centres:
                model = with_centre_map(model)
            trainer_class = DenseTrainer
        if (args.dense_heads or args.distill_heads) and "segment" in info.meta:
            meta["segment"] = info.meta["segment"]  # the parent's decoding, until tune_decoding says otherwise
        model.train()
    else:
        config = {"skip": ModelConfig(), "paper": ModelConfig.paper(), "tiny": ModelConfig.tiny(),
                  "lite0": ModelConfig.lite0()}[args.arch]
        if args.input_size:
            h, w = (int(v) for v in args.input_size.lower().split("x"))
            config = ModelConfig(**{**config.to_dict(), "input_size": (h, w)})
        model = build_ris(config, pretrained=not args.no_imagenet)
        if not args.resume:  # a resumed run's weights come from its state, not from this build
            meta["encoder_init"] = "imagenet" if config.encoder == "lite0" and not args.no_imagenet else "random"
    if not args.distill_heads:
        pair_size = model.config.dense_input_size if args.dense_heads else model.config.input_size
        train_pairs, val_pairs = load_pairs(Path(args.data), pair_size, args.val_split, seed=args.seed)
    low, high = (float(v) for v in args.scale_range.split(","))
    augment = AugmentConfig(
        rotate="right_angles" if args.right_angles_only else "any", scale_range=(low, high),
        brightness=args.colour_jitter, contrast=args.colour_jitter, saturation=args.colour_jitter,
        hue=args.colour_jitter / 5, p_background=args.background_p,
    )
    config = TrainConfig(
        lr=args.lr if args.lr is not None else 1e-4, curriculum_start=args.curriculum_start, curriculum_every=args.curriculum_every,
        pretrain_iterations=args.pretrain_iterations, val_every=args.val_every,
        checkpoint_minutes=args.checkpoint_minutes, seed=args.seed, augment=augment,
        backbone_lr_scale=args.backbone_lr_scale, frozen_backbone_blocks=args.frozen_backbone_blocks,
        val_assignment=args.val_assignment, aux_weight=args.aux_weight, leaf_size_balance=args.leaf_size_balance,
    )
    trainer = trainer_class(model, *trainer_args, train_pairs, val_pairs, config, device=_device(args.device))
    talk = trainer.is_main  # other ranks of a torchrun job stay silent
    state = resume_path(args.out)
    if args.resume:
        if not state.is_file():
            raise ConfigError(f"--resume: no training state at {state}")
        trainer.load_state(state)
        if args.lr is not None:  # an explicit --lr on resume replaces the saved one (manual schedule)
            trainer.set_lr(args.lr)
        if talk:
            print(f"resumed at iteration {trainer.iteration} ({trainer.elapsed_s / 60:.1f} min trained so far)")
    if talk:
        print(f"training on {len(train_pairs)} image(s), validating on {len(val_pairs)}"
              + (f", {os.environ['WORLD_SIZE']} processes" if trainer.distributed else ""))
    bar = tqdm(total=args.iterations, initial=trainer.iteration, unit="it", disable=args.quiet or not talk)

    def on_event(event) -> None:
        if not talk:
            return
        if event.kind == "iteration":
            bar.update(1)
            bar.set_postfix(loss=f"{event.loss:.3f}", iou=f"{event.iou:.3f}", steps=event.steps, lr=f"{event.lr:.0e}")
        elif event.kind == "validation":
            m = event.metrics
            bar.write(f"[{event.iteration}] val loss {m['loss']:.3f} SBD {100 * m['sbd']:.1f} "
                      f"|DiC| {m['abs_dic']:.2f} DiC {m['dic']:+.2f} FBD {100 * m['fbd']:.1f}")
        elif event.kind == "lr":
            bar.write(f"[{event.iteration}] learning rate lowered to {event.lr:.1e}")

    cancel = CancelToken()
    # Ctrl+C or a job scheduler's SIGTERM: finish the iteration, save the resumable state, stop.
    previous = {sig: signal.signal(sig, lambda *_: cancel.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        out = run_training(trainer, args.out, iterations=args.iterations, minutes=args.minutes,
                           meta=meta, on_event=on_event, cancel=cancel)
    except Cancelled:
        if talk:
            print(f"stopped at iteration {trainer.iteration}; continue with --resume (state in {state})")
        raise
    finally:
        bar.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if talk:
        best = trainer.best_metrics.get("iteration")
        kept = f"the best validation, iteration {best:.0f}" if best is not None else f"iteration {trainer.iteration}"
        print(f"trained to iteration {trainer.iteration}; {out} holds {kept}; resume state {state}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from leafcount.analysis.report import write_report
    from leafcount.analysis.scale import read_folder_scale

    scale = args.scale
    if scale is None:  # the scale measured for the photos' folder (GUI: draw a line over a ruler)
        scale = read_folder_scale(args.images or args.labels)
        if scale is not None:
            print(f"using the folder's scale: {scale:.3f} px/mm")
    bar = tqdm(desc="report", unit="image", disable=args.quiet)

    def on_progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    join = _metadata_join(args.metadata)
    try:
        summary = write_report(args.labels, args.out, images_dir=args.images, truth_dir=args.truth,
                               px_per_mm=scale, on_progress=on_progress, join=join)
    finally:
        bar.close()
    if join is not None:
        import pandas as pd

        _warn_mismatches(join, pd.read_csv(summary.out_dir / "counts.csv", dtype=str, keep_default_na=False))
    for name in summary.missing_truth:
        print(f"warning: {name}: no ground truth, left out of the scores", file=sys.stderr)
    for name in summary.missing_images:
        print(f"warning: {name}: no photo found, no colour traits or thumbnail", file=sys.stderr)
    print(f"report of {summary.n_images} image(s) in {summary.out_dir}: "
          + ", ".join(p.name for p in summary.files))
    if summary.metrics:
        from leafcount.analysis.metrics import format_summary

        for key, text in format_summary(summary.metrics).items():
            print(f"  {key:8s} {text}")
    return 0


def cmd_track(args: argparse.Namespace) -> int:
    from leafcount.model.checkpoint import find_default_model, read_checkpoint_info
    from leafcount.analysis.scale import read_folder_scale
    from leafcount.series.pipeline import track_series

    if args.tray not in ("auto", "off"):
        from leafcount.inference.tray import parse_grid

        parse_grid(args.tray)  # a bad layout is one clear error before any work starts
    model = Path(args.model) if args.model else find_default_model()
    if args.model:
        read_checkpoint_info(model)  # a bad checkpoint is one clear error before any work starts
    scale = args.scale
    folders = [Path(item) for item in args.inputs if Path(item).is_dir()]
    if scale is None and folders:  # the scale measured for the photos' folder, as `report` uses
        scale = read_folder_scale(folders[0])
        if scale is not None:
            print(f"using the folder's scale: {scale:.3f} px/mm")
    bar = tqdm(desc="segment", unit="image", disable=args.quiet)
    try:
        summary = track_series(args.inputs, args.out, model_path=model, tray=args.tray, workers=args.workers,
                               pattern=args.pattern, time_format=args.time_format, metadata_path=args.metadata,
                               group_by=args.group_by, px_per_mm=scale, on_result=lambda outcome: bar.update(1))
    finally:
        bar.close()
    for message in summary.left_out + summary.warnings:
        print(f"warning: {message}", file=sys.stderr)
    corrected = f"; {len(summary.corrected)} saved correction(s) used" if summary.corrected else ""
    print(f"{summary.n_tracks} leaf track(s) of {summary.n_plants} plant(s) in {summary.n_images} image(s){corrected}; "
          f"{', '.join(path.name for path in summary.files)} and the label PNGs in {summary.out_dir}")
    return 1 if summary.left_out else 0


def cmd_synth(args: argparse.Namespace) -> int:
    from leafcount.data.synth import write_series_folder, write_synth_folder

    h, w = (int(v) for v in args.size.lower().split("x"))
    if args.dates:
        paths = write_series_folder(Path(args.out), args.n, args.dates, seed=args.seed, shape=(h, w))
        print(f"wrote {args.n} growing rosette(s) on {args.dates} date(s) ({len(paths)} photos) to {args.out}")
        return 0
    paths = write_synth_folder(Path(args.out), args.n, seed=args.seed, shape=(h, w))
    print(f"wrote {len(paths)} synthetic rosette(s) to {args.out}")
    return 0


def _report(exc: BaseException, args: argparse.Namespace) -> None:
    print(f"error: {exc}", file=sys.stderr)
    if args.verbose:
        log.exception("details", exc_info=exc)


METADATA_HELP = ("CSV keyed by plant (plant040, or tray1_B3 for a tray's plant), position (B3) or image, with "
                 "genotype, treatment ...: its columns are joined into ")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="leafcount", description="Count and outline rosette leaves with Recurrent Instance Segmentation.")
    parser.add_argument("-v", "--verbose", action="store_true", help="show tracebacks")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    # The same flags after the sub-command name (leafcount train -q ...); SUPPRESS keeps a flag given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress bars")
    sub = parser.add_subparsers(dest="command", required=True)

    seg = sub.add_parser("segment", parents=[common], help="segment images leaf by leaf")
    seg.add_argument("inputs", nargs="+", help="image files and/or folders")
    g = seg.add_argument_group("model")
    g.add_argument("--model", help="checkpoint (.safetensors); default: the one in models/")
    g = seg.add_argument_group("algorithm")
    g.add_argument("--stop-threshold", type=float,
                   help="stop when s_t falls below this (default: the checkpoint's tuned value, else 0.5)")
    g.add_argument("--mask-threshold", type=float, help="pixel joins a leaf above this (default 0.5)")
    g.add_argument("--assignment", choices=ASSIGNMENTS,
                   help="which leaf gets a pixel: the earliest that claims it (first, paper), the highest "
                        "mask value (argmax), RIS's leaves grown over the network's plant and leaf-edge "
                        "maps (grow), the leaf-edge map's basins split and merged by the steps (basins), "
                        "or one leaf per peak of the leaf-centre map (centres) "
                        "(default: the checkpoint's tuned rule, else first)")
    g.add_argument("--max-steps", type=int, help="at most this many leaves (default 40)")
    g.add_argument("--flips", type=int, choices=(1, 2, 4),
                   help="also segment 1 or 3 mirrored copies and average each leaf's masks: sharper "
                        "edges, 2x or 4x the time (default: the checkpoint's setting, else 1)")
    g.add_argument("--dense-flips", type=int, choices=(1, 2, 4),
                   help="average the plant and leaf-edge maps of 'grow' over 1 or 3 mirrored copies "
                        "(encoder only; default: the checkpoint's setting, else 1)")
    g.add_argument("--crf", action="store_true", help="refine the leaves with a dense CRF (RIS+CRF)")
    g.add_argument("--tray", metavar="auto|off|ROWSxCOLS", default="auto",
                   help="trays of many plants: found image by image (auto, the default), never (off), "
                        "or every image is a tray of this layout (e.g. 4x5)")
    g = seg.add_argument_group("hardware")
    g.add_argument("--workers", type=int, default=0, help="local processes (default 0 = one per core)")
    g.add_argument("--scheduler", help="Dask scheduler address (tcp://host:8786): segment on that cluster")
    g = seg.add_argument_group("output")
    g.add_argument("--out", required=True, help="folder for label PNGs, overlays and counts.csv")
    g.add_argument("--metadata", help=METADATA_HELP + "counts.csv")
    seg.set_defaults(func=cmd_segment)

    ev = sub.add_parser("evaluate", parents=[common], help="score predicted label PNGs against ground truth (CVPPP metrics)")
    ev.add_argument("--pred", required=True, help="folder of *_label.png predictions")
    ev.add_argument("--truth", required=True, help="folder with ground-truth *_label.png of the same names")
    ev.add_argument("--out", help="per-image CSV (default PRED/metrics.csv)")
    ev.add_argument("--only-predicted", action="store_true",
                    help="score only the images with a prediction (default: a ground truth without one "
                         "counts as a plant whose every leaf was missed)")
    ev.set_defaults(func=cmd_evaluate)

    tr = sub.add_parser("train", parents=[common], help="train or fine-tune a RIS model")
    g = tr.add_argument_group("input")
    g.add_argument("--data", required=True, help="CVPPP-style folder of images with *_label.png")
    g.add_argument("--val-split", default="auto",
                   help="'auto' (split.json if present, else 20%% held out) or a fraction such as 0.2")
    g = tr.add_argument_group("model")
    g.add_argument("--init", help="start from this checkpoint (fine-tuning)")
    g.add_argument("--arch", choices=("skip", "paper", "tiny", "lite0"), default="skip",
                   help="architecture for a new model (lite0: ImageNet-pretrained EfficientNet-Lite0 encoder)")
    g.add_argument("--no-imagenet", action="store_true", help="lite0: start the encoder from random weights")
    g.add_argument("--input-size", help="HxW network input for a new model, e.g. 250x265")
    g.add_argument("--dense-heads", metavar="HxW",
                   help="train only full-resolution foreground/boundary heads at this input size "
                        "(e.g. 512x544) on top of the --init model, whose weights stay as they are "
                        "(heads the --init model already has are trained further)")
    g.add_argument("--distill-heads", action="store_true",
                   help="train full-resolution heads that read the recurrent encoder's context (faster) "
                        "to give the maps of the --init model's heads, which run their own backbone; "
                        "every other weight stays as it is")
    g.add_argument("--dense-centres", action="store_true",
                   help="with --dense-heads: the heads also learn a leaf-centre map (for the \"centres\" decoding)")
    g = tr.add_argument_group("training")
    g.add_argument("--iterations", type=int, help="stop at this total iteration count")
    g.add_argument("--minutes", type=float, help="stop after this many minutes")
    g.add_argument("--lr", type=float,
                   help="Adam learning rate (default 1e-4, the paper's; with --resume: the saved one unless given)")
    g.add_argument("--curriculum-start", type=int, default=2)
    g.add_argument("--curriculum-every", type=int, default=200)
    g.add_argument("--pretrain-iterations", type=int, default=0, help="dense encoder pre-training first")
    g.add_argument("--val-every", type=int, default=500)
    g.add_argument("--val-assignment", choices=ASSIGNMENTS, default="first", help="decoding of the validation runs")
    g.add_argument("--aux-weight", type=float, default=0.5,
                   help="weight of the dense foreground and leaf-boundary loss beside the matching loss")
    g.add_argument("--leaf-size-balance", type=float, default=0.0,
                   help="with --dense-heads: weigh a leaf's pixels in the boundary and centre losses by "
                        "(median leaf area / its area) ** this, so small leaves count (0: every pixel alike)")
    g.add_argument("--backbone-lr-scale", type=float, default=1.0,
                   help="lite0: the pretrained backbone learns this fraction of --lr")
    g.add_argument("--frozen-backbone-blocks", type=int, default=0,
                   help="lite0: keep the stem and this many first blocks at their ImageNet weights")
    g.add_argument("--right-angles-only", action="store_true", help="rotate by multiples of 90 degrees only")
    g.add_argument("--scale-range", default="0.8,1.2", help="random zoom range LOW,HIGH")
    g.add_argument("--colour-jitter", type=float, default=0.1, help="brightness/contrast/saturation jitter")
    g.add_argument("--background-p", type=float, default=0.0,
                   help="probability of putting the plant on a synthetic surface (generalisation)")
    g.add_argument("--seed", type=int, default=0)
    g = tr.add_argument_group("hardware")
    g.add_argument("--threads", type=int, default=1, help="CPU threads for torch")
    g.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="where to train (auto: a CUDA GPU when there is one)")
    g = tr.add_argument_group("output")
    g.add_argument("--out", required=True, help="checkpoint to write (.safetensors)")
    g.add_argument("--checkpoint-minutes", type=float, default=5.0, help="save the resumable state this often")
    g.add_argument("--resume", action="store_true", help="continue from OUT's resumable state")
    g.add_argument("--export", action="store_true",
                   help="train nothing: write OUT from the weights of its resumable state (with --init: "
                        "that model's decoding and name as the parent)")
    tr.set_defaults(func=cmd_train)

    rp = sub.add_parser("report", parents=[common], help="counts, per-leaf traits and DiC/SBD report of label PNGs")
    rp.add_argument("--labels", required=True, help="folder of *_label.png (predictions or saved corrections)")
    rp.add_argument("--images", help="folder of the photos (colour traits, thumbnails)")
    rp.add_argument("--truth", help="folder of ground-truth *_label.png: adds metrics.csv/.json and report.html")
    rp.add_argument("--scale", type=float,
                    help="pixels per mm, for areas in mm^2 (default: the scale stored with the photos' folder)")
    rp.add_argument("--out", required=True, help="report folder")
    rp.add_argument("--metadata", help=METADATA_HELP + "counts.csv, plants.csv and leaves.csv")
    rp.set_defaults(func=cmd_report)

    tk = sub.add_parser("track", parents=[common],
                        help="follow each leaf of the same plants through a time series; growth curves")
    tk.add_argument("inputs", nargs="+",
                    help="images named <plant>_<YYYY-MM-DD>[T<HH-MM>] and/or folders of them (or of date-named "
                         "sub-folders: 2026-03-01/plant040.png)")
    tk.add_argument("--out", required=True,
                    help="folder for the tracked label PNGs, overlays, tracks.csv, growth.csv and growth.html")
    tk.add_argument("--model", help="checkpoint (.safetensors); default: the one in models/")
    tk.add_argument("--pattern", help="regular expression for the whole file name without extension, with named "
                                      "groups (?P<plant>...) and (?P<time>...)")
    tk.add_argument("--time-format", help="strptime format of the pattern's time group (default: ISO dates)")
    tk.add_argument("--metadata", help="CSV keyed by plant, position (tray) or image, with genotype, treatment ...: "
                                       "its columns are joined into tracks.csv and growth.csv")
    tk.add_argument("--group-by", help="metadata column whose groups get mean curves (default: its first column)")
    tk.add_argument("--scale", type=float,
                    help="pixels per mm, for areas in mm^2 (default: the scale stored with the photos' folder)")
    tk.add_argument("--tray", metavar="auto|off|ROWSxCOLS", default="auto",
                    help="trays: each position (tray1_B3) is its own plant through the series (as for segment)")
    tk.add_argument("--workers", type=int, default=0, help="local processes (default 0 = one per core)")
    tk.set_defaults(func=cmd_track)

    sy = sub.add_parser("synth", parents=[common], help="write a folder of synthetic rosettes with labels")
    sy.add_argument("--out", required=True)
    sy.add_argument("-n", type=int, default=20)
    sy.add_argument("--seed", type=int, default=0)
    sy.add_argument("--size", default="250x265", help="HxW")
    sy.add_argument("--dates", type=int, default=0,
                    help="a time series instead: N plants growing over this many dates, as track reads them")
    sy.set_defaults(func=cmd_synth)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    try:
        return int(args.func(args))
    except Cancelled:
        print("stopped", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except LeafcountError as exc:
        _report(exc, args)
        return 2


def run() -> NoReturn:
    """The ``leafcount`` command: :func:`main`, then a quick exit.

    Tearing the interpreter down once torch, SciPy, scikit-image and pandas
    are loaded takes about a second (0.9-1.0 s measured here, against 0.09 s
    for ``os._exit``), which is several percent of segmenting a folder of
    100 images. The exit handlers still run (the worker pool's, logging's,
    temporary folders' clean-up) and the output streams are flushed; only
    the freeing of every module's objects one by one is skipped, which the
    operating system does at once when the process ends. An unexpected
    exception leaves the ordinary way, with its traceback, and so does a run
    that left a thread working (the interpreter waits for it). When the
    reader of the output has gone (``leafcount segment ... | head``), the
    work is done and saved: the command ends with status 1 and no traceback.
    """
    try:
        code = main()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # what is still buffered goes nowhere
        code = 1
    if any(thread.is_alive() and not thread.daemon for thread in threading.enumerate()
           if thread is not threading.main_thread()):
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (leafcount ... | head) or stream: nothing left to say
            pass
    os._exit(code)


if __name__ == "__main__":
    run()
