"""One pass of RIS cut into the parts that can be timed on their own: the
encoder, the recurrent steps (on one encoding) and the full-resolution heads.
Shared by ``speed.py`` (each part against its FLOP floor) and ``pass_ab.py``
(each part against an earlier revision)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from leafcount.inference.heads_window import plant_window
from leafcount.inference.segment import content_boxes, image_to_tensor


def pass_parts(model, image: np.ndarray, n_steps: int, window: bool = False) -> dict[str, Callable[[], object]]:
    """Part name -> a call running it on ``image`` (``model``: a RIS of this tree or of an earlier
    revision's package; the inputs are letterboxed by this tree's code). ``window``: also the heads
    on the plant's window, as a pass runs them (:mod:`leafcount.inference.heads_window`)."""
    cfg = model.config
    small, box = image_to_tensor(image, cfg.input_size, cfg.output_stride)
    large, large_box = image_to_tensor(image, cfg.dense_input_size)
    with torch.inference_mode():
        encoded = model.encode(small)

    def steps() -> None:
        state, canvas = model.initial_state(encoded), model.initial_canvas(encoded)
        for _ in range(n_steps):
            _, state, canvas = model.step(encoded, state, canvas)

    parts: dict[str, Callable[[], object]] = {"encoder": lambda: model.encode(small), f"{n_steps} steps": steps}
    if model.dense is not None:  # revisions before dense_logits had no heads that read the encoding
        heads = getattr(model, "dense_logits", lambda image, _: model.dense(image))
        parts["heads"] = lambda: heads(large, encoded)
        if window and encoded.aux_logits is not None and not cfg.dense_context:
            grid_box = content_boxes(model, box)[0]
            rows, cols = plant_window(encoded.aux_logits[0, 0].numpy(), grid_box, large_box, tuple(large.shape[-2:]))
            inside = large[..., rows, cols]
            parts[f"heads on {inside.shape[-2]}x{inside.shape[-1]} window"] = lambda: heads(inside, encoded)
    return parts
