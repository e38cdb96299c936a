import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from leafcount.editing.edits import merge_edit, paint_edit, split_edit
from leafcount.gui.canvas import Canvas, Tool
from leafcount.gui.label_layer import LabelLayer, boundary_mask, color_index
from leafcount.inference.segment import Step


def leaf_labels() -> np.ndarray:
    labels = np.zeros((60, 80), dtype=np.int32)
    labels[5:25, 5:35] = 1
    labels[30:55, 10:70] = 2
    return labels


@pytest.fixture
def canvas(qtbot):
    canvas = Canvas()
    qtbot.addWidget(canvas)
    canvas.set_image(np.full((60, 80, 3), 0.5, dtype=np.float32))
    canvas.set_labels(leaf_labels())
    return canvas


def emitted_edit(qtbot, canvas, gesture):
    with qtbot.waitSignal(canvas.edit_made, timeout=1000) as made:
        gesture()
    return made.args[0]


def same_edit(a, b) -> bool:
    return a.box == b.box and all(
        np.array_equal(x, y) for x, y in ((a.changed, b.changed), (a.new_values, b.new_values))
    )


def test_a_paint_stroke_becomes_a_paint_edit_of_the_selected_leaf(qtbot, canvas):
    canvas.select_leaf(2)
    canvas.set_tool(Tool.PAINT)
    canvas.set_brush_radius(3)
    points = [(20.0, 40.0), (28.0, 60.0)]
    edit = emitted_edit(qtbot, canvas, lambda: canvas.view.stroke_ended.emit(points))
    assert same_edit(edit, paint_edit(canvas.labels, points, 3, 2))
    assert not (canvas.labels == 2)[20, 40]  # the canvas never applies an edit itself


def test_protect_leaves_paints_background_only(qtbot, canvas):
    canvas.select_leaf(2)
    canvas.set_tool(Tool.PAINT)
    canvas.protect_leaves = True
    points = [(15.0, 30.0), (15.0, 50.0)]
    edit = emitted_edit(qtbot, canvas, lambda: canvas.view.stroke_ended.emit(points))
    assert same_edit(edit, paint_edit(canvas.labels, points, canvas.brush_radius, 2, only_background=True))


def test_painting_without_a_selection_extends_the_leaf_under_the_start(qtbot, canvas):
    canvas.set_tool(Tool.PAINT)
    edit = emitted_edit(qtbot, canvas, lambda: canvas.view.stroke_ended.emit([(10.0, 10.0), (10.0, 45.0)]))
    assert edit.description == "paint leaf 1" and canvas.selected_leaf == 1


def test_new_leaf_paints_an_unused_id(qtbot, canvas):
    canvas.start_new_leaf()
    assert canvas.tool is Tool.PAINT and canvas.selected_leaf == 3
    edit = emitted_edit(qtbot, canvas, lambda: canvas.view.clicked.emit(2.0, 70.0))
    assert edit.leaf_ids == {3}


def test_split_cuts_the_leaf_the_line_crosses(qtbot, canvas):
    canvas.set_tool(Tool.SPLIT)
    line = [(28.0, 40.0), (57.0, 40.0)]
    edit = emitted_edit(qtbot, canvas, lambda: canvas.view.stroke_ended.emit(line))
    assert same_edit(edit, split_edit(canvas.labels, 2, line))


def test_merge_click_merges_into_the_selected_leaf(qtbot, canvas):
    canvas.select_leaf(1)
    canvas.set_tool(Tool.MERGE)
    edit = emitted_edit(qtbot, canvas, lambda: canvas.view.clicked.emit(40.0, 40.0))
    assert same_edit(edit, merge_edit(canvas.labels, 1, 2))


def test_select_click_selects_and_background_clears(qtbot, canvas):
    with qtbot.waitSignal(canvas.leaf_selected) as selected:
        canvas.view.clicked.emit(40.0, 40.0)
    assert selected.args == [2] and canvas.selection_layer.isVisible()
    canvas.view.clicked.emit(58.0, 2.0)
    assert canvas.selected_leaf == 0 and not canvas.selection_layer.isVisible()


def test_ctrl_wheel_asks_for_another_brush_size(qtbot, canvas):
    class Wheel:
        def modifiers(self):
            return Qt.KeyboardModifier.ControlModifier

        def delta(self):
            return -120

        def accept(self):
            self.accepted = True

    with qtbot.waitSignal(canvas.brush_wheel) as wheel:
        canvas.view.wheelEvent(Wheel())
    assert wheel.args == [-1]


def test_cursor_reports_the_leaf_under_it(qtbot, canvas):
    scene_pos = canvas.view.mapViewToScene(QPointF(40.5, 40.5))
    with qtbot.waitSignal(canvas.cursor_moved) as moved:
        canvas.scene().sigMouseMoved.emit(scene_pos)
    assert moved.args == [40, 40, 2]


def test_show_step_highlights_the_mask_over_the_whole_image(canvas):
    mask = np.zeros((30, 40), dtype=np.float32)
    mask[5:10, 5:10] = 0.9
    canvas.show_step(Step(0, mask, 0.8, np.ones((6, 8), np.float32)))
    assert canvas.step_layer.isVisible()
    rect = canvas.step_layer.mapRectToParent(canvas.step_layer.boundingRect())
    assert (rect.width(), rect.height()) == (80, 60)
    canvas.show_step(None)
    assert not canvas.step_layer.isVisible()


def test_the_canvas_draws_the_outline_where_the_mask_lies_on_the_photo(canvas):
    mask = np.zeros((30, 40), dtype=np.float32)  # stretched over the 80 x 60 photo: 2 photo pixels a mask pixel
    mask[5:10, 5:10] = 1.0  # at the 0.5 threshold the curve runs halfway between pixel centres
    canvas.show_step(Step(0, mask, 0.8, np.ones((6, 8), np.float32)))
    outline = canvas.step_outline
    on_photo = canvas.step_layer.mapRectToParent(outline.mapRectToParent(outline.path().boundingRect()))
    assert (on_photo.x(), on_photo.y(), on_photo.width(), on_photo.height()) == (10.0, 10.0, 10.0, 10.0)


@pytest.mark.parametrize("outlines", [False, True])
def test_label_layer_box_updates_match_a_full_redraw(qtbot, outlines):
    labels = leaf_labels()
    layer = LabelLayer()
    layer.set_outlines(outlines)
    layer.show_labels(labels)
    edit = paint_edit(labels, [(20.0, 30.0), (35.0, 30.0)], 4, 7)
    edit.apply(labels)
    layer.update_box(edit.box)
    partial = layer.image.copy()
    layer.show_labels(labels)
    np.testing.assert_array_equal(partial, layer.image)


def test_colour_index_keeps_background_and_wraps_large_ids():
    labels = np.array([[0, 1, 255, 256, 510]], dtype=np.int32)
    np.testing.assert_array_equal(color_index(labels), [[0, 1, 255, 1, 255]])


def test_boundary_mask_marks_leaf_pixels_next_to_another_value():
    labels = np.zeros((5, 5), dtype=np.int32)
    labels[1:4, 1:4] = 3
    expected = labels > 0
    expected[2, 2] = False
    np.testing.assert_array_equal(boundary_mask(labels), expected)
