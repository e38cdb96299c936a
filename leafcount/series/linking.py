"""Track ids along one plant's dates: the same leaf, the same id, on every date.

Each date is matched to the one before: on the alignment of the two
rosettes first (:mod:`.align`), then again on the alignment that the leaves
matched in that first round give, since a leaf that vanished or appeared
misleads the first (the area ratio, the outline) but hardly the second. A
matched leaf takes its predecessor's id, any other leaf a new id, and a
leaf with no successor ends its track; an id is never given twice, so a
leaf that vanishes and a new one in its place are two tracks. Ids come from
a counter shared by the plants of one label image (the positions of a
tray), so a tray's label file holds each id once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from leafcount.series.align import align_frames, fit_alignment
from leafcount.series.frames import PlantFrame
from leafcount.series.matching import match_leaves

MIN_PAIRS_TO_REFIT = 3


@dataclass(frozen=True)
class LinkedFrame:
    """A frame and its leaves' track ids: image leaf id -> track id."""

    frame: PlantFrame
    track_ids: dict[int, int]


def link_plant(frames: Sequence[PlantFrame], new_ids: Iterator[int]) -> tuple[list[LinkedFrame], dict[int, datetime]]:
    """Track ids for one plant's frames (in time order) and when each track was first seen."""
    linked: list[LinkedFrame] = []
    first_seen: dict[int, datetime] = {}
    for frame in frames:
        previous = linked[-1] if linked else None
        matches = match_dates(previous.frame, frame) if previous else {}
        track_ids = {}
        for leaf in frame.leaf_ids.tolist():
            if leaf in matches:
                track_ids[leaf] = previous.track_ids[matches[leaf]]
            else:
                track_ids[leaf] = next(new_ids)
                first_seen[track_ids[leaf]] = frame.image.time
        linked.append(LinkedFrame(frame, track_ids))
    return linked, first_seen


def match_dates(earlier: PlantFrame, later: PlantFrame) -> dict[int, int]:
    """Later leaf id -> earlier leaf id, in two rounds (see the module's docstring)."""
    matches = match_leaves(earlier, later, align_frames(earlier, later))
    if len(matches) < MIN_PAIRS_TO_REFIT:
        return matches
    earlier_index = {int(leaf): i for i, leaf in enumerate(earlier.leaf_ids)}
    later_index = {int(leaf): i for i, leaf in enumerate(later.leaf_ids)}
    pairs = [(earlier_index[e], later_index[l]) for l, e in matches.items()]
    from_rows, to_rows = [e for e, _ in pairs], [l for _, l in pairs]
    refit = fit_alignment(earlier.centroids[from_rows], later.centroids[to_rows], earlier.areas[from_rows])
    return match_leaves(earlier, later, refit)
