"""napari sample data: the demo photos bundled with leafcount, each with its license.

The attribution and license of each photo come from ``resources/demo/NOTICE.md``,
the file that already records them for the app, and travel in the layer's
``metadata`` so that a screenshot or a saved layer can credit the photo.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from leafcount.data.demo import DEMO_DIR
from leafcount.napari.reader import LayerData, read_image_file

NOTICE = DEMO_DIR / "NOTICE.md"


def demo_notices(notice: Path = NOTICE) -> dict[str, dict[str, str]]:
    """File name -> {"attribution", "license"} from the table of ``NOTICE.md``."""
    notices = {}
    for line in notice.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and (DEMO_DIR / cells[0]).is_file():
            notices[cells[0]] = {"attribution": cells[1], "license": cells[2]}
    return notices


def _sample(file_name: str) -> Callable[[], list[LayerData]]:
    def open_sample() -> list[LayerData]:
        layers = read_image_file(str(DEMO_DIR / file_name))
        data, kwargs, layer_type = layers[0]
        metadata: dict[str, Any] = {**kwargs["metadata"], **demo_notices()[file_name]}
        return [(data, {**kwargs, "metadata": metadata}, layer_type)]

    open_sample.__doc__ = f"The demo photo {file_name}, with its attribution and license in the metadata."
    return open_sample


arabidopsis_tray = _sample("arabidopsis_tray.jpg")
chamber_tray = _sample("chamber_tray.jpg")
pi_rosette = _sample("pi_rosette_2019-10-31.png")
col0_rosette = _sample("Col-0_M_9_17dpi.jpg")
pi_series_crop = _sample("pi_series_2019-11-02-11-05_crop-img17.jpg")
