"""The napari run: live labels until the pipeline has the final ones, then those."""

import numpy as np

import leafcount.napari.run as napari_run
from leafcount.napari.run import LiveStep, RunSettings, segment_live


def test_steps_after_the_final_labels_carry_them(model_path, monkeypatch, scripted_scores, drained):
    real = napari_run.load_checkpoint

    def scripted(path):
        model, info = real(path)
        scripted_scores(model, [0.9, 0.8, 0.3, 0.6])  # under the 0.5 stop at step 3; the checkpoint's 4 steps
        return model, info

    monkeypatch.setattr(napari_run, "load_checkpoint", scripted)
    rows, cols = np.mgrid[:60, :64]
    image = np.full((60, 64, 3), (0.45, 0.3, 0.2), np.float32)
    image[(rows - 30) ** 2 + (cols - 32) ** 2 < 400] = (0.2, 0.7, 0.2)
    updates, run = drained(segment_live(image, RunSettings(model_path, stop_threshold=0.5)))
    assert [u.step.index for u in updates if isinstance(u, LiveStep)] == [0, 1, 2, 3]
    assert all(u.labels is not run.labels for u in updates[:3])  # previews of the leaves so far
    assert all(u.labels is run.labels for u in updates[3:])  # then the run's own labels
    assert len(run.steps) == 4
