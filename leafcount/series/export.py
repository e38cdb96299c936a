"""The time-series part of the app's File > Export: tracks and growth of the saved labels.

The app's report covers each image on its own; when the folder holds a
series, the export also runs ``track`` (:func:`.pipeline.track_series`) on
the photos whose labels are saved beside them, so that tracks.csv,
growth.csv and growth.html come with it. Photos without saved labels are
left out rather than segmented: an export never runs the model.
"""

from __future__ import annotations

from pathlib import Path

from leafcount.io.corrections import read_sidecar
from leafcount.series.pipeline import TrackSummary, track_series
from leafcount.series.timeline import series_plants

SERIES_DIR_NAME = "time-series"


def export_series(folder: Path, report_dir: Path) -> TrackSummary | None:
    """Track the saved labels of ``folder``'s series into ``report_dir/time-series``.

    Returns None when the folder holds no series, or none of its plants has
    saved labels on two dates.
    """
    saved = [image.path for images in series_plants(folder).values() for image in images
             if read_sidecar(image.path, lenient=True) is not None]
    if len(saved) < 2:
        return None
    return track_series(saved, report_dir / SERIES_DIR_NAME, tray=None)
