"""The central canvas: photo, leaf overlay, step highlight, kappa heat map, brush.

The canvas shows state and turns mouse gestures into ``LabelEdit``s, which
it emits with ``edit_made``; it never changes the labels itself.
"""

from __future__ import annotations

import enum

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsEllipseItem, QGraphicsPathItem

from leafcount.editing.edits import (
    erase_edit,
    merge_edit,
    next_free_label,
    paint_edit,
    split_edit,
)
from leafcount.editing.targets import leaf_at, paint_target, split_target
from leafcount.gui.label_layer import LabelLayer, boundary_mask, overlay_lut
from leafcount.gui.outline import outline_path
from leafcount.inference.segment import Step

KAPPA_COLORMAP = "inferno"
MIN_WIDTH = 360
_HIGHLIGHT = (255, 235, 59)  # the step mask: yellow reads on green leaves and dark soil


class Tool(enum.Enum):
    SELECT = "select"  # click selects a leaf, drag pans
    PAINT = "paint"
    ERASE = "erase"
    SPLIT = "split"  # draw a line across the selected leaf
    MERGE = "merge"  # click a leaf to merge it into the selected one
    RULER = "ruler"  # drag along a ruler to set the folder's scale


DRAWING_TOOLS = (Tool.PAINT, Tool.ERASE, Tool.SPLIT, Tool.RULER)


class CanvasViewBox(pg.ViewBox):
    """A ViewBox whose left drags draw strokes while a drawing tool is active.

    Positions are emitted as pixel coordinates (row, col), pixel centres at
    integers. Ctrl + wheel asks for a brush size change instead of zooming.
    """

    clicked = Signal(float, float)
    stroke_moved = Signal(object)  # list of (row, col) so far
    stroke_ended = Signal(object)  # list of (row, col)
    brush_wheel = Signal(int)  # +1 / -1

    def __init__(self) -> None:
        super().__init__(lockAspect=True, invertY=True, enableMenu=False)
        self.draws = False
        self._stroke: list[tuple[float, float]] = []

    def mouseClickEvent(self, ev) -> None:  # noqa: N802 - Qt naming
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.clicked.emit(*self.pixel_at(ev.pos()))
        else:
            super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev, axis=None) -> None:  # noqa: N802
        if not self.draws or ev.button() != Qt.MouseButton.LeftButton:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        if ev.isStart():
            self._stroke = [self.pixel_at(ev.buttonDownPos())]
        self._stroke.append(self.pixel_at(ev.pos()))
        if ev.isFinish():
            stroke, self._stroke = self._stroke, []
            self.stroke_ended.emit(stroke)
        else:
            self.stroke_moved.emit(self._stroke)

    def wheelEvent(self, ev, axis=None) -> None:  # noqa: N802
        if ev.modifiers() & Qt.KeyboardModifier.ControlModifier:
            ev.accept()
            self.brush_wheel.emit(1 if ev.delta() > 0 else -1)
        else:
            super().wheelEvent(ev, axis)

    def pixel_at(self, pos: QPointF) -> tuple[float, float]:
        point = self.mapToView(pos)
        return point.y() - 0.5, point.x() - 0.5


class Canvas(pg.GraphicsLayoutWidget):
    """Photo with the leaf overlay; the brush and clicks produce edits."""

    edit_made = Signal(object)  # LabelEdit, not applied
    leaf_selected = Signal(int)  # 0 = no selection
    cursor_moved = Signal(int, int, int)  # row, col, leaf id under it (-1: outside the image)
    brush_wheel = Signal(int)
    brush_radius_changed = Signal(float)
    ruler_drawn = Signal(object, object)  # (row, col) start and end of a ruler line

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setBackground("#202020")
        self.setMinimumWidth(MIN_WIDTH)  # a narrow window shrinks the side panels first
        self.ci.setContentsMargins(0, 0, 0, 0)  # the photo gets every pixel of the canvas
        self.view = CanvasViewBox()
        self.addItem(self.view)
        self.photo = pg.ImageItem()
        self.label_layer = LabelLayer()
        self.label_layer.set_fill_opacity(0.5)
        self.kappa_layer = pg.ImageItem()
        self.kappa_layer.setOpacity(0.6)
        self.kappa_layer.setLookupTable(pg.colormap.get(KAPPA_COLORMAP).getLookupTable(nPts=256))
        self.kappa_layer.setVisible(False)
        self.step_layer = pg.ImageItem()
        self.step_layer.setLookupTable(_highlight_lut())
        self.step_outline = QGraphicsPathItem(self.step_layer)  # in the step mask's pixels
        self.step_outline.setPen(pg.mkPen(_HIGHLIGHT, width=2, cosmetic=True))
        self.selection_layer = pg.ImageItem()
        self.selection_layer.setLookupTable(np.array([[0, 0, 0, 0], [255, 255, 255, 255]], np.uint8))
        for z, item in enumerate(
            (self.photo, self.kappa_layer, self.label_layer, self.step_layer, self.selection_layer)
        ):
            item.setZValue(z)
            self.view.addItem(item)
        self.stroke_preview = QGraphicsPathItem()
        self.stroke_preview.setZValue(10)
        self.brush_cursor = QGraphicsEllipseItem()
        self.brush_cursor.setPen(pg.mkPen("w", width=1, cosmetic=True))
        self.brush_cursor.setZValue(11)
        self.brush_cursor.setVisible(False)
        self.view.addItem(self.stroke_preview, ignoreBounds=True)
        self.view.addItem(self.brush_cursor, ignoreBounds=True)

        self.labels: np.ndarray | None = None
        self.tool = Tool.SELECT
        self.brush_radius = 6.0
        self.protect_leaves = False
        self.selected_leaf = 0
        self._shape: tuple[int, int] | None = None

        self.view.clicked.connect(self._on_clicked)
        self.view.stroke_moved.connect(self._on_stroke_moved)
        self.view.stroke_ended.connect(self._on_stroke_ended)
        self.view.brush_wheel.connect(self.brush_wheel)
        self.view.sigTransformChanged.connect(self._on_zoom)
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)

    # -- what to show ---------------------------------------------------------

    def set_image(self, image: np.ndarray | None) -> None:
        """Show a new photo (H, W, 3) float in [0, 1], or nothing; resets the view."""
        self.labels = None
        self.label_layer.show_labels(None)
        self.show_step(None)
        self.set_kappa(None)
        self.select_leaf(0)
        if image is None:
            self._shape = None
            self.photo.clear()
            return
        self._shape = image.shape[:2]
        self.photo.setImage((image * 255 + 0.5).astype(np.uint8), levels=(0, 255), autoLevels=False)
        self.fit()

    def fit(self) -> None:
        if self._shape is not None:
            self.view.setRange(self.image_rect(), padding=0.02)

    def set_labels(self, labels: np.ndarray | None) -> None:
        """Show the document's labels (the canvas reads them, never writes)."""
        self.labels = labels
        self.label_layer.show_labels(labels)
        self._update_selection()

    def update_labels(self, box: tuple[slice, slice] | None) -> None:
        """Redraw after an edit changed ``box`` of the labels given to ``set_labels``."""
        if self.label_layer.labels is not self.labels:  # a preview is showing
            self.label_layer.show_labels(self.labels)
        else:
            self.label_layer.update_box(box)
        self._update_selection()

    def show_preview(self, small_labels: np.ndarray) -> None:
        """Labels at mask resolution, stretched over the photo (while the model runs)."""
        if self._shape is not None:
            self.label_layer.show_labels(small_labels, extent=self._shape)

    def show_step(self, step: Step | None, mask_threshold: float = 0.5, region: QRectF | None = None) -> None:
        """Highlight one step's mask y_t and its outline at the mask threshold.

        ``region`` (x, y, width, height in image pixels) is the part of the
        photo the step was computed on: a plant of a tray; default the whole.
        """
        if step is None or self._shape is None:
            self.step_layer.setVisible(False)
            return
        self.step_layer.setImage(step.mask, levels=(0.0, 1.0), autoLevels=False)
        self.step_layer.setRect(region if region is not None else self.image_rect())
        self.step_outline.setPath(outline_path(step.mask, mask_threshold))
        self.step_layer.setVisible(True)

    def set_kappa(
        self, kappa: np.ndarray | None, levels: tuple[float, float] = (0.0, 1.0), region: QRectF | None = None
    ) -> None:
        if kappa is None or self._shape is None:
            self.kappa_layer.clear()
            return
        self.kappa_layer.setImage(kappa, levels=levels, autoLevels=False)
        self.kappa_layer.setRect(region if region is not None else self.image_rect())

    def image_rect(self) -> QRectF:
        """The photo in view coordinates (empty without a photo)."""
        return QRectF(0, 0, self._shape[1], self._shape[0]) if self._shape else QRectF()

    def set_kappa_visible(self, visible: bool) -> None:
        self.kappa_layer.setVisible(visible)

    def set_overlay_opacity(self, opacity: float) -> None:
        self.label_layer.set_fill_opacity(opacity)

    def set_outlines(self, outlines: bool) -> None:
        self.label_layer.set_outlines(outlines)

    def _on_zoom(self) -> None:
        width = self.view.viewPixelSize()[0]  # image pixels per screen pixel
        if width > 0:
            self.label_layer.set_screen_scale(1 / width)

    # -- tools ----------------------------------------------------------------

    def set_tool(self, tool: Tool) -> None:
        self.tool = tool
        self.view.draws = tool in DRAWING_TOOLS
        self.brush_cursor.setVisible(False)
        self.stroke_preview.setPath(QPainterPath())
        self.setCursor(Qt.CursorShape.CrossCursor if tool is not Tool.SELECT else Qt.CursorShape.ArrowCursor)

    def set_brush_radius(self, radius: float) -> None:
        radius = max(0.0, float(radius))
        if radius != self.brush_radius:
            self.brush_radius = radius
            self._place_brush_cursor(self.brush_cursor.rect().center())
            self.brush_radius_changed.emit(radius)

    def select_leaf(self, leaf_id: int) -> None:
        if leaf_id != self.selected_leaf:
            self.selected_leaf = leaf_id
            self._update_selection()
            self.leaf_selected.emit(leaf_id)

    def start_new_leaf(self) -> None:
        """Select an unused id and switch to the brush: the next stroke draws a new leaf."""
        if self.labels is not None:
            self.select_leaf(next_free_label(self.labels))
            self.set_tool(Tool.PAINT)

    def leaf_at(self, row: float, col: float) -> int:
        """Leaf id under a pixel position, -1 outside the image (or without labels)."""
        return leaf_at(self.labels, row, col) if self.labels is not None else -1

    # -- mouse ----------------------------------------------------------------

    def _on_clicked(self, row: float, col: float) -> None:
        if self.labels is None:
            return
        leaf = max(self.leaf_at(row, col), 0)
        if self.tool in (Tool.PAINT, Tool.ERASE):
            self._on_stroke_ended([(row, col)])
        elif self.tool is Tool.MERGE and self.selected_leaf and leaf and leaf != self.selected_leaf:
            edit = merge_edit(self.labels, self.selected_leaf, leaf)
            if edit is not None:
                self.edit_made.emit(edit)
        elif self.tool is not Tool.SPLIT:
            self.select_leaf(leaf)

    def clear_preview(self) -> None:
        """Remove the stroke or ruler line drawn while dragging."""
        self.stroke_preview.setPath(QPainterPath())

    def _on_stroke_moved(self, points: list[tuple[float, float]]) -> None:
        if self.tool is Tool.RULER:
            points = [points[0], points[-1]]  # a straight line from where the drag began
        path = QPainterPath(QPointF(points[0][1] + 0.5, points[0][0] + 0.5))
        for row, col in points[1:]:
            path.lineTo(col + 0.5, row + 0.5)
        if self.tool is Tool.RULER:
            pen = pg.mkPen(_HIGHLIGHT, width=2, cosmetic=True)
        elif self.tool is Tool.SPLIT:
            pen = pg.mkPen("#ff5252", width=2, cosmetic=True)
        else:
            color = QColor(255, 255, 255, 110)
            if self.tool is Tool.PAINT:
                rgb = overlay_lut()[self._paint_leaf(points[0]) % 256 or 1, :3]
                color = QColor(int(rgb[0]), int(rgb[1]), int(rgb[2]), 140)
            pen = QPen(color, 2 * self.brush_radius + 1)
            pen.setCapStyle(Qt.PenCapStyle.RoundCap)
            pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        self.stroke_preview.setPen(pen)
        self.stroke_preview.setPath(path)

    def _on_stroke_ended(self, points: list[tuple[float, float]]) -> None:
        if self.tool is Tool.RULER:  # the line stays until the length is typed in
            self._on_stroke_moved(points)
            self.ruler_drawn.emit(points[0], points[-1])
            return
        self.clear_preview()
        if self.labels is None:
            return
        if self.tool is Tool.PAINT:
            leaf = self._paint_leaf(points[0])
            self.select_leaf(leaf)
            edit = paint_edit(
                self.labels, points, self.brush_radius, leaf, only_background=self.protect_leaves
            )
        elif self.tool is Tool.ERASE:
            edit = erase_edit(self.labels, points, self.brush_radius)
        elif self.tool is Tool.SPLIT:
            leaf = self._split_leaf(points)
            edit = split_edit(self.labels, leaf, points) if leaf else None
        else:
            return
        if edit is not None:
            self.edit_made.emit(edit)

    def _paint_leaf(self, start: tuple[float, float]) -> int:
        return paint_target(self.labels, self.selected_leaf, start)

    def _split_leaf(self, points: list[tuple[float, float]]) -> int:
        return split_target(self.labels, self.selected_leaf, points)

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        if self._shape is None:
            return
        point = self.view.mapSceneToView(scene_pos)
        row, col = point.y() - 0.5, point.x() - 0.5
        leaf = self.leaf_at(row, col)
        inside = 0 <= round(row) < self._shape[0] and 0 <= round(col) < self._shape[1]
        self.cursor_moved.emit(int(round(row)), int(round(col)), leaf if inside else -1)
        self._place_brush_cursor(point)
        self.brush_cursor.setVisible(self.tool in (Tool.PAINT, Tool.ERASE) and self.underMouse())

    def _place_brush_cursor(self, centre: QPointF) -> None:
        r = self.brush_radius + 0.5
        self.brush_cursor.setRect(QRectF(centre.x() - r, centre.y() - r, 2 * r, 2 * r))

    def _update_selection(self) -> None:
        """Outline the selected leaf (drawn only in its bounding box)."""
        if self.labels is None or not self.selected_leaf:
            self.selection_layer.setVisible(False)
            return
        mask = self.labels == self.selected_leaf
        rows = np.flatnonzero(mask.any(axis=1))
        if rows.size == 0:
            self.selection_layer.setVisible(False)
            return
        cols = np.flatnonzero(mask[rows[0] : rows[-1] + 1].any(axis=0))
        r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        crop = np.pad(mask[r0:r1, c0:c1], 1)
        edge = boundary_mask(crop.astype(np.int32))[1:-1, 1:-1]
        self.selection_layer.setImage(edge.astype(np.uint8), levels=(0, 1), autoLevels=False)
        self.selection_layer.setRect(QRectF(c0, r0, c1 - c0, r1 - r0))
        self.selection_layer.setVisible(True)


def _highlight_lut() -> np.ndarray:
    """Transparent at y_t = 0 rising to a translucent highlight at y_t = 1."""
    lut = np.zeros((256, 4), dtype=np.uint8)
    lut[:, :3] = _HIGHLIGHT
    lut[:, 3] = np.linspace(0, 150, 256).astype(np.uint8)
    return lut

