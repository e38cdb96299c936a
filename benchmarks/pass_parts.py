"""One pass of RIS cut into the parts that can be timed on their own: the
encoder, the recurrent steps (on one encoding) and the full-resolution heads.
Shared by ``speed.py`` (each part against its FLOP floor) and ``pass_ab.py``
(each part against an earlier revision)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from leafcount.inference.segment import image_to_tensor


def pass_parts(model, image: np.ndarray, n_steps: int) -> dict[str, Callable[[], object]]:
    """Part name -> a call running it on ``image`` (``model``: a RIS of this tree or of an earlier
    revision's package; the inputs are letterboxed by this tree's code)."""
    cfg = model.config
    small, _ = image_to_tensor(image, cfg.input_size, cfg.output_stride)
    large, _ = image_to_tensor(image, cfg.dense_input_size)
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
    return parts
