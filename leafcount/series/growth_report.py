"""``growth.html``: growth curves and overlay strips of every plant, in one file.

Per plant: rosette area and leaf count over time, the area of every leaf
over time (one line per track, in the colour its id has in the label PNGs
and overlays), and its overlays date by date, where the same leaf has the
same colour. Above them, every plant's rosette area and leaf count, and,
with metadata, the mean and spread of each group. Like ``report.html`` it
is self-contained (plots and thumbnails as base64 PNGs) and drawn with
matplotlib's Agg canvas, never a GUI toolkit.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from PIL import Image

from leafcount import __version__
from leafcount.data.cvppp import label_colors

GROUP_COLOURS = ("#2a7a3b", "#b5562b", "#3565a8", "#8a4f9e", "#c49a1b", "#3b9ea1", "#a33b5a", "#6b6b6b")

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.8em; border-bottom: 1px solid #ddd; }
.strip { display: flex; gap: 0.4em; overflow-x: auto; }
figure { margin: 0; } figcaption { font-size: 0.85em; color: #555; text-align: center; }
.note { color: #555; font-size: 0.9em; } li { font-size: 0.9em; }
"""


def growth_html(
    growth: pd.DataFrame,
    tracks: pd.DataFrame,
    strips: Mapping[str, Sequence[tuple[datetime, bytes]]],
    *,
    group_by: str | None,
    notes: Sequence[str],
    px_per_mm: float | None,
) -> str:
    """The page: ``growth`` and ``tracks`` as :mod:`.tables` makes them (times as datetimes),
    ``strips`` the overlay thumbnails (PNG) of each plant by date."""
    area = ("rosette_area_mm2", "area_mm2", "mm²") if px_per_mm else ("rosette_area_px", "area_px", "px")
    esc = html.escape
    sections = []
    if group_by:
        sections.append(f"<h2>Groups by {esc(group_by)}</h2>"
                        f"<p class=\"note\">Mean of the plants of each group; the band is one standard deviation.</p>"
                        f"{_img(_groups_png(growth, group_by, area), 'group curves')}")
    sections.append(f"<h2>All plants</h2>{_img(_all_plants_png(growth, area), 'rosette area and leaf count of every plant')}")
    for plant, rows in growth.groupby("plant", sort=True):
        leaves = tracks[tracks["plant"] == plant]
        thumbnails = "".join(
            f"<figure>{_img(png, f'{plant} {time:%Y-%m-%d}')}<figcaption>{esc(_when(time))}</figcaption></figure>"
            for time, png in strips.get(plant, ()))
        sections.append(f"<h2>{esc(str(plant))}</h2>{_img(_plant_png(rows, leaves, area), f'{plant} growth')}"
                        f"<div class=\"strip\">{thumbnails}</div>")
    note_items = "".join(f"<li>{esc(note)}</li>" for note in notes)
    generated = datetime.now(timezone.utc).isoformat(timespec="seconds")
    summary = (f"{growth['plant'].nunique()} plant(s), {growth['image'].nunique()} image(s), "
               f"{tracks.groupby('plant')['leaf_id'].nunique().sum() if len(tracks) else 0} leaf track(s)")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>leafcount growth</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>Growth</h1>
<p class="note">leafcount {esc(__version__)}, {esc(generated)}. {esc(summary)}. Areas in {area[2]}.
The same leaf keeps its id, and its colour, on every date.</p>
{f'<ul>{note_items}</ul>' if note_items else ''}
{''.join(sections)}
</body>
</html>
"""


def _when(time: datetime) -> str:
    return f"{time:%Y-%m-%d %H:%M}" if time.hour or time.minute else f"{time:%Y-%m-%d}"


def _img(png: bytes, alt: str) -> str:
    return f'<img src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}" alt="{html.escape(alt)}">'


def _figure_png(figure: Figure) -> bytes:
    # Fixed margins: constrained layout would double the time of every plot (a tray has dozens).
    figure.subplots_adjust(left=0.06, right=0.98, bottom=0.16, top=0.89, wspace=0.25)
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def _time_axis(axes) -> None:
    """Dates as "Mar 01" (hours as "14:30" within a day), the year once beside the axis."""
    locator = AutoDateLocator(minticks=3, maxticks=8)
    formatter = ConciseDateFormatter(locator)
    formatter.formats[2] = formatter.zero_formats[2] = "%b %d"
    formatter.offset_formats[2] = formatter.offset_formats[1] = "%Y"
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(formatter)


def _plant_png(rows: pd.DataFrame, leaves: pd.DataFrame, area: tuple[str, str, str]) -> bytes:
    figure = Figure(figsize=(11.5, 3.2))
    rosette, count, per_leaf = figure.subplots(1, 3)
    rosette.plot(rows["time"], rows[area[0]], marker="o", color="#2a7a3b")
    rosette.set_title(f"rosette area ({area[2]})")
    count.plot(rows["time"], rows["leaf_count"], marker="o", color="#2a7a3b")
    count.set_title("leaf count")
    count.yaxis.set_major_locator(MaxNLocator(integer=True))
    colours = label_colors(int(leaves["leaf_id"].max()) if len(leaves) else 0) / 255.0
    for leaf_id, track in leaves.groupby("leaf_id"):
        colour = colours[int(leaf_id)]
        per_leaf.plot(track["time"], track[area[1]], marker="o", markersize=3, linewidth=1.4, color=colour)
        per_leaf.annotate(str(leaf_id), (track["time"].iloc[-1], track[area[1]].iloc[-1]), xytext=(3, 0),
                          textcoords="offset points", fontsize=7, color=colour, va="center")
    per_leaf.set_title(f"area of each leaf ({area[2]}), by label id")
    for axes in (rosette, count, per_leaf):
        _time_axis(axes)
        axes.set_ylim(bottom=0)
        axes.grid(alpha=0.3)
    return _figure_png(figure)


def _all_plants_png(growth: pd.DataFrame, area: tuple[str, str, str]) -> bytes:
    figure = Figure(figsize=(11.5, 3.4))
    rosette, count = figure.subplots(1, 2)
    for plant, rows in growth.groupby("plant", sort=True):
        rosette.plot(rows["time"], rows[area[0]], marker=".", linewidth=1, alpha=0.8, label=str(plant))
        count.plot(rows["time"], rows["leaf_count"], marker=".", linewidth=1, alpha=0.8)
    rosette.set_title(f"rosette area of every plant ({area[2]})")
    count.set_title("leaf count of every plant")
    count.yaxis.set_major_locator(MaxNLocator(integer=True))
    if growth["plant"].nunique() <= 12:
        rosette.legend(fontsize=7, frameon=False)
    for axes in (rosette, count):
        _time_axis(axes)
        axes.set_ylim(bottom=0)
        axes.grid(alpha=0.3)
    return _figure_png(figure)


def _groups_png(growth: pd.DataFrame, group_by: str, area: tuple[str, str, str]) -> bytes:
    figure = Figure(figsize=(11.5, 3.4))
    panels = figure.subplots(1, 2)
    for index, (group, rows) in enumerate(growth.groupby(growth[group_by].fillna(""), sort=True)):
        colour = GROUP_COLOURS[index % len(GROUP_COLOURS)]
        for axes, column in zip(panels, (area[0], "leaf_count")):
            stats = rows.groupby("time")[column].agg(["mean", "std", "count"]).reset_index()
            spread = stats["std"].fillna(0.0).to_numpy()
            axes.plot(stats["time"], stats["mean"], marker="o", color=colour,
                      label=f"{group or 'no ' + group_by} (n={rows['plant'].nunique()})")
            axes.fill_between(stats["time"], stats["mean"] - spread, stats["mean"] + spread, color=colour,
                              alpha=0.18, linewidth=0)
    panels[0].set_title(f"rosette area ({area[2]}), mean and sd by {group_by}")
    panels[1].set_title(f"leaf count, mean and sd by {group_by}")
    panels[0].legend(fontsize=8, frameon=False)
    for axes in panels:
        _time_axis(axes)
        axes.set_ylim(bottom=0)
        axes.grid(alpha=0.3)
    return _figure_png(figure)


def thumbnail_png(rgb: np.ndarray, height: int = 150) -> bytes:
    """A small PNG of an overlay crop, ``height`` pixels high."""
    image = Image.fromarray(rgb, mode="RGB")
    width = max(1, round(image.width * height / max(image.height, 1)))
    buffer = io.BytesIO()
    image.resize((width, height), Image.Resampling.LANCZOS).save(buffer, format="PNG")
    return buffer.getvalue()
