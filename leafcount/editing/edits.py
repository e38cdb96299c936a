"""Label edits as small, reversible diffs (paint, erase, delete, merge, split, fill).

An edit is computed from a label image without changing it and stores only
what it changes: the bounding box of the changed pixels, a boolean mask of
those pixels inside the box, and their old and new values (napari's history
atoms). Applying then reverting an edit gives back the exact array, and a
brush stroke on a 4000x3000 image costs a few kilobytes, not a copy of the
image. Builders return ``None`` when the edit would change nothing, so callers
never push empty undo steps.

Coordinates are pixel indices ``(row, col)``; the centre of pixel ``(r, c)`` is
the point ``(r, c)``. Points may be fractional and may lie outside the image
(a brush dragged off the edge), the part of the stroke inside is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from leafcount.arrays import check_labels
from leafcount.errors import LabelFormatError

__all__ = [
    "LabelEdit",
    "delete_edit",
    "erase_edit",
    "fill_holes_edit",
    "merge_edit",
    "next_free_label",
    "paint_edit",
    "replace_edit",
    "split_edit",
]

Box = tuple[slice, slice]

# Half width of the cut drawn by split_edit: pixels within this distance of the
# line are removed before looking for parts. One pixel either side is enough to
# separate 8-connected parts along a diagonal.
_SPLIT_HALF_WIDTH = 1.0

_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


@dataclass(frozen=True, eq=False)
class LabelEdit:
    """A reversible change to a label image, stored as a diff.

    Attributes
    ----------
    box : tuple of slice
        Rows and columns of the smallest box holding every changed pixel.
    changed : ndarray of bool, shape (h, w)
        Which pixels inside ``box`` change.
    old_values, new_values : ndarray of int32, shape (k,)
        Values of the changed pixels before and after, in row-major order of
        ``changed``; ``k = changed.sum()``.
    description : str
        What the edit does, for an undo history ("paint leaf 3").
    leaf_ids : frozenset of int
        Leaves whose pixels change (before or after), background excluded.
    """

    box: Box
    changed: np.ndarray
    old_values: np.ndarray
    new_values: np.ndarray
    description: str
    leaf_ids: frozenset[int]

    @property
    def nbytes(self) -> int:
        """Memory held by the diff arrays."""
        return self.changed.nbytes + self.old_values.nbytes + self.new_values.nbytes

    def apply(self, labels: np.ndarray) -> None:
        """Write the new values into ``labels`` (in place)."""
        labels[self.box][self.changed] = self.new_values

    def revert(self, labels: np.ndarray) -> None:
        """Write the old values back into ``labels`` (in place)."""
        labels[self.box][self.changed] = self.old_values


def next_free_label(labels: np.ndarray) -> int:
    """The smallest id above every leaf id in use (1 for an empty image).

    Examples
    --------
    >>> next_free_label(np.array([[0, 3], [7, 0]], dtype=np.int32))
    8
    >>> next_free_label(np.zeros((2, 2), dtype=np.int32))
    1
    """
    check_labels(labels)
    return int(labels.max(initial=0)) + 1


def replace_edit(labels: np.ndarray, new_labels: np.ndarray, description: str) -> LabelEdit | None:
    """The edit that turns ``labels`` into ``new_labels`` (e.g. a model rerun).

    Parameters
    ----------
    labels, new_labels : ndarray of int, shape (H, W)
        Current and wanted label images; they must have the same shape.
    description : str
        Text for the undo history.

    Returns
    -------
    LabelEdit or None
        ``None`` when the two images are equal.

    Raises
    ------
    LabelFormatError
        When the shapes differ or an array is not 2-D.
    """
    check_labels(labels)
    check_labels(new_labels)
    if new_labels.shape != labels.shape:
        raise LabelFormatError(
            f"new labels have shape {new_labels.shape}, the current labels {labels.shape}"
        )
    whole = (slice(0, labels.shape[0]), slice(0, labels.shape[1]))
    return _diff(labels, whole, new_labels, description)


def paint_edit(
    labels: np.ndarray,
    points: Sequence[tuple[float, float]],
    radius: float,
    leaf_id: int,
    *,
    only_background: bool = False,
) -> LabelEdit | None:
    """Paint ``leaf_id`` with a round brush along a polyline.

    Parameters
    ----------
    labels : ndarray of int, shape (H, W)
        Label image (not modified).
    points : sequence of (row, col)
        The brush path; one point paints a single disc.
    radius : float
        Brush radius in pixels; a pixel is painted when its centre lies within
        ``radius`` of the path, so radius 0 paints the pixels the path crosses.
    leaf_id : int
        Leaf to paint, >= 1.
    only_background : bool
        Paint only background pixels, leaving other leaves untouched.

    Returns
    -------
    LabelEdit or None
        ``None`` when no pixel changes (stroke outside the image, or already
        that leaf).

    Raises
    ------
    ValueError
        When ``leaf_id`` < 1, ``radius`` < 0 or ``points`` is empty.
    """
    check_labels(labels)
    if leaf_id < 1:
        raise ValueError(f"leaf_id must be >= 1 to paint a leaf, got {leaf_id}")
    found = _stroke_mask(labels.shape, points, radius)
    if found is None:
        return None
    box, stroke = found
    if only_background:
        stroke &= labels[box] == 0
    new = np.where(stroke, np.int32(leaf_id), labels[box])
    return _diff(labels, box, new, f"paint leaf {leaf_id}")


def erase_edit(
    labels: np.ndarray, points: Sequence[tuple[float, float]], radius: float
) -> LabelEdit | None:
    """Set the pixels under a round brush path to background.

    Parameters and the brush geometry are those of :func:`paint_edit`.

    Raises
    ------
    ValueError
        When ``radius`` < 0 or ``points`` is empty.
    """
    check_labels(labels)
    found = _stroke_mask(labels.shape, points, radius)
    if found is None:
        return None
    box, stroke = found
    new = np.where(stroke, np.int32(0), labels[box])
    return _diff(labels, box, new, "erase")


def delete_edit(labels: np.ndarray, leaf_id: int) -> LabelEdit | None:
    """Remove one leaf (its pixels become background).

    Returns ``None`` when the leaf is not in the image.
    """
    check_labels(labels)
    box = _leaf_box(labels, leaf_id)
    if box is None:
        return None
    window = labels[box]
    new = np.where(window == leaf_id, np.int32(0), window)
    return _diff(labels, box, new, f"delete leaf {leaf_id}")


def merge_edit(labels: np.ndarray, keep_id: int, other_id: int) -> LabelEdit | None:
    """Give the pixels of leaf ``other_id`` to leaf ``keep_id``.

    Returns ``None`` when ``other_id`` is absent or equal to ``keep_id``.

    Raises
    ------
    ValueError
        When ``keep_id`` < 1 (merging into background is :func:`delete_edit`).
    """
    check_labels(labels)
    if keep_id < 1:
        raise ValueError(f"keep_id must be a leaf id >= 1, got {keep_id}")
    if other_id == keep_id:
        return None
    box = _leaf_box(labels, other_id)
    if box is None:
        return None
    window = labels[box]
    new = np.where(window == other_id, np.int32(keep_id), window)
    return _diff(labels, box, new, f"merge leaf {other_id} into {keep_id}")


def split_edit(
    labels: np.ndarray, leaf_id: int, line_points: Sequence[tuple[float, float]]
) -> LabelEdit | None:
    """Cut a leaf in parts along a drawn polyline.

    The pixels of the leaf within one pixel of the line are set aside, and the
    rest of the leaf falls into 8-connected parts. In every piece of the leaf
    that the cut divides, the largest part keeps ``leaf_id`` and each other
    part gets a new id (from :func:`next_free_label` upwards); pieces the line
    does not divide (a detached fragment elsewhere) keep ``leaf_id``. The set
    aside line pixels then join the nearest part, so no pixel of the leaf is
    lost.

    Returns
    -------
    LabelEdit or None
        ``None`` when the line does not divide the leaf.

    Raises
    ------
    ValueError
        When ``line_points`` is empty.
    """
    check_labels(labels)
    box = _leaf_box(labels, leaf_id)
    if box is None:
        return None
    found = _stroke_mask(labels.shape, line_points, _SPLIT_HALF_WIDTH, within=box)
    if found is None:
        return None
    line_box, line = found
    leaf = labels[box] == leaf_id
    cut = np.zeros_like(leaf)
    cut[_relative(line_box, box)] = line
    cut &= leaf

    pieces, _ = ndimage.label(leaf, structure=_EIGHT_CONNECTED)
    parts, n_parts = ndimage.label(leaf & ~cut, structure=_EIGHT_CONNECTED)
    if n_parts < 2:
        return None
    part_ids = np.arange(1, n_parts + 1)
    sizes = ndimage.sum_labels(np.ones_like(parts), parts, part_ids)
    # Each part lies in exactly one piece of the uncut leaf; any pixel tells which.
    piece_of_part = ndimage.maximum(pieces, parts, part_ids).astype(np.int64)
    new_id_of_part = np.zeros(n_parts + 1, dtype=np.int32)
    next_id = next_free_label(labels)
    for piece in np.unique(piece_of_part):
        members = part_ids[piece_of_part == piece]
        largest = members[np.argmax(sizes[members - 1])]
        for part in members:
            if part == largest:
                new_id_of_part[part] = leaf_id
            else:
                new_id_of_part[part] = next_id
                next_id += 1
    if next_id == next_free_label(labels):
        return None

    # Line pixels go to the nearest part (ties as scipy's distance transform breaks them).
    _, (near_r, near_c) = ndimage.distance_transform_edt(parts == 0, return_indices=True)
    nearest_part = parts[near_r, near_c]
    new = labels[box].copy()
    new[leaf] = new_id_of_part[nearest_part[leaf]]
    return _diff(labels, box, new, f"split leaf {leaf_id}")


def fill_holes_edit(labels: np.ndarray, leaf_id: int) -> LabelEdit | None:
    """Fill the background holes enclosed by one leaf.

    Only background pixels change: a different leaf enclosed by this one is
    kept (:func:`scipy.ndimage.binary_fill_holes` decides what is enclosed).
    Returns ``None`` when the leaf is absent or has no background hole.
    """
    check_labels(labels)
    box = _leaf_box(labels, leaf_id)
    if box is None:
        return None
    window = labels[box]
    # A hole never touches the leaf's bounding box edge, so filling inside the
    # box gives the same result as filling the whole image.
    filled = ndimage.binary_fill_holes(window == leaf_id)
    new = np.where(filled & (window == 0), np.int32(leaf_id), window)
    return _diff(labels, box, new, f"fill holes in leaf {leaf_id}")


def _diff(labels: np.ndarray, box: Box, new: np.ndarray, description: str) -> LabelEdit | None:
    """The edit from ``labels[box]`` to ``new``, shrunk to the changed pixels."""
    old = labels[box]
    changed = old != new
    rows = np.flatnonzero(changed.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(changed.any(axis=0))
    inner = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    changed = np.ascontiguousarray(changed[inner])
    old_values = old[inner][changed].astype(np.int32)
    new_values = new[inner][changed].astype(np.int32)
    for array in (changed, old_values, new_values):
        array.setflags(write=False)
    touched = np.union1d(old_values, new_values)
    outer = tuple(
        slice(int(whole.start + part.start), int(whole.start + part.stop))
        for whole, part in zip(box, inner)
    )
    return LabelEdit(
        box=outer,  # type: ignore[arg-type]
        changed=changed,
        old_values=old_values,
        new_values=new_values,
        description=description,
        leaf_ids=frozenset(int(v) for v in touched if v != 0),
    )


def _leaf_box(labels: np.ndarray, leaf_id: int) -> Box | None:
    if leaf_id < 1:
        return None
    rows = np.flatnonzero((labels == leaf_id).any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero((labels[rows[0] : rows[-1] + 1] == leaf_id).any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def _relative(inner: Box, outer: Box) -> Box:
    return tuple(slice(i.start - o.start, i.stop - o.start) for i, o in zip(inner, outer))  # type: ignore[return-value]


def _stroke_mask(
    shape: tuple[int, ...],
    points: Sequence[tuple[float, float]],
    radius: float,
    *,
    within: Box | None = None,
) -> tuple[Box, np.ndarray] | None:
    """Pixels whose centre lies within ``radius`` of the polyline, clipped to the image.

    Each segment is drawn in its own small box so a long stroke of short mouse
    moves costs the area it covers, not the area of its bounding box.
    """
    path = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if path.shape[0] == 0:
        raise ValueError("a stroke needs at least one point")
    if radius < 0:
        raise ValueError(f"brush radius must be >= 0, got {radius}")
    limit = within or (slice(0, shape[0]), slice(0, shape[1]))
    lo = np.floor(path.min(axis=0) - radius).astype(int)
    hi = np.ceil(path.max(axis=0) + radius).astype(int) + 1
    r0, c0 = max(lo[0], limit[0].start), max(lo[1], limit[1].start)
    r1, c1 = min(hi[0], limit[0].stop), min(hi[1], limit[1].stop)
    if r0 >= r1 or c0 >= c1:
        return None
    mask = np.zeros((r1 - r0, c1 - c0), dtype=bool)
    ends = path[1:] if len(path) > 1 else path
    for start, end in zip(path, ends):
        _draw_segment(mask, (r0, c0), start, end, radius)
    if not mask.any():
        return None
    return (slice(r0, r1), slice(c0, c1)), mask


def _draw_segment(
    mask: np.ndarray, origin: tuple[int, int], start: np.ndarray, end: np.ndarray, radius: float
) -> None:
    lo = np.floor(np.minimum(start, end) - radius).astype(int) - np.asarray(origin)
    hi = np.ceil(np.maximum(start, end) + radius).astype(int) + 1 - np.asarray(origin)
    lo = np.maximum(lo, 0)
    hi = np.minimum(hi, mask.shape)
    if np.any(lo >= hi):
        return
    rows = np.arange(lo[0], hi[0])[:, None] + origin[0]
    cols = np.arange(lo[1], hi[1])[None, :] + origin[1]
    direction = end - start
    length2 = float(direction @ direction)
    if length2 == 0.0:
        t = 0.0
    else:
        t = ((rows - start[0]) * direction[0] + (cols - start[1]) * direction[1]) / length2
        t = np.clip(t, 0.0, 1.0)
    dr = rows - (start[0] + t * direction[0])
    dc = cols - (start[1] + t * direction[1])
    mask[lo[0] : hi[0], lo[1] : hi[1]] |= dr * dr + dc * dc <= radius * radius
