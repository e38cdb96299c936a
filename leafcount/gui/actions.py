"""The window's actions (menus, toolbars, shortcuts), built in one place."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QUndoGroup
from PySide6.QtWidgets import QMainWindow, QStyle, QToolBar

from leafcount.gui.canvas import Tool

TOOL_KEYS = {
    Tool.SELECT: ("Select", "V", "Click a leaf to select it; drag to pan"),
    Tool.PAINT: ("Paint", "B", "Paint the selected leaf with a round brush ([ and ] or Ctrl+wheel: size)"),
    Tool.ERASE: ("Erase", "E", "Erase leaf pixels with a round brush"),
    Tool.SPLIT: ("Split", "L", "Draw a line across a leaf to cut it in two"),
    Tool.MERGE: ("Merge", "M", "Click a leaf to merge it into the selected one"),
    Tool.RULER: ("Set scale", "R", "Drag a line along a ruler in the photo, then type its length in mm"),
}


def distinct_keys(keys: list[QKeySequence]) -> list[QKeySequence]:
    """``keys`` without repeats and empty sequences, in order."""
    seen: dict[str, QKeySequence] = {}
    for key in keys:
        if not key.isEmpty():
            seen.setdefault(key.toString(), key)
    return list(seen.values())


class WindowActions(QObject):
    """Every QAction of the main window; the window connects them."""

    def __init__(self, window: QMainWindow, undo_group: QUndoGroup) -> None:
        super().__init__(window)
        style = window.style()

        def action(text: str, shortcut=None, tip: str = "", icon=None, checkable=False) -> QAction:
            act = QAction(text, window)
            if shortcut is not None:
                act.setShortcut(QKeySequence(shortcut))
            if icon is not None:
                act.setIcon(style.standardIcon(icon))
            act.setToolTip(f"{tip or text} ({act.shortcut().toString()})" if shortcut else tip or text)
            act.setStatusTip(tip)
            act.setCheckable(checkable)
            return act

        SP = QStyle.StandardPixmap
        self.open_folder = action("Open folder…", QKeySequence.StandardKey.Open, "Open a folder of plant images", SP.SP_DirOpenIcon)
        self.output_folder = action("Save corrections to…", None, "Choose where label files are saved (default: beside each image)")
        self.load_model = action("Load model…", "Ctrl+M", "Load a leafcount checkpoint (.safetensors)")
        self.export = action("Export report…", "Ctrl+E", "Leaf counts, per-leaf traits and (with ground truth) DiC / SBD as CSV, JSON and HTML")
        self.save = action("Save", QKeySequence.StandardKey.Save, "Save the labels as <name>_label.png + .json", SP.SP_DialogSaveButton)
        self.quit = action("Quit", QKeySequence.StandardKey.Quit)

        self.segment = action("Segment", "Ctrl+R", "Find the leaves of this image, one step at a time", SP.SP_MediaPlay)
        self.segment_all = action("Segment all", "Ctrl+Shift+R", "Segment every image of the folder that has no labels yet")
        self.cancel = action("Cancel", "Escape", "Stop the running segmentation", SP.SP_BrowserStop)
        self.cancel.setEnabled(False)
        self.crf = action("CRF refinement", None, "Snap leaf edges to the photo with a dense CRF (RIS+CRF)", checkable=True)
        self.mirrored = action("Mirrored passes", None, "Also segment 3 mirrored copies and average each leaf's "
                               "masks: sharper edges, about 4x the time", checkable=True)
        self.tray_mode = action("Tray mode", "T", "A tray of many plants: find each plant, then segment them one by one", checkable=True)
        self.fine_tune = action("Train on corrections…", None, "Fine-tune the model on this folder's saved corrections, in the background")
        self.models = action("Models…", None, "The shipped model and every fine-tuned checkpoint: switch or roll back")

        self.undo = undo_group.createUndoAction(window, "Undo")
        self.undo.setShortcut(QKeySequence.StandardKey.Undo)
        self.redo = undo_group.createRedoAction(window, "Redo")
        # Both usual redo keys on every desktop, plus the desktop's own (each once:
        # a key given twice is ambiguous to Qt and does nothing).
        self.redo.setShortcuts(distinct_keys([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y"),
                                              *QKeySequence.keyBindings(QKeySequence.StandardKey.Redo)]))
        self.tool_group = QActionGroup(window)
        self.tools: dict[Tool, QAction] = {}
        for tool, (text, key, tip) in TOOL_KEYS.items():
            act = action(text, key, tip, checkable=True)
            act.setData(tool)
            self.tool_group.addAction(act)
            self.tools[tool] = act
        self.tools[Tool.SELECT].setChecked(True)
        self.new_leaf = action("New leaf", "N", "Start a new leaf: the next brush stroke draws it")
        self.delete_leaf = action("Delete leaf", QKeySequence.StandardKey.Delete, "Delete the selected leaf")
        self.delete_leaf.setShortcuts(distinct_keys([QKeySequence(QKeySequence.StandardKey.Delete),
                                                     QKeySequence("Backspace")]))
        self.fill_holes = action("Fill holes", "H", "Fill the background holes inside the selected leaf")
        self.protect_leaves = action("Protect other leaves", "P", "The brush paints only on background", checkable=True)
        self.brush_smaller = action("Smaller brush", "[")
        self.brush_larger = action("Larger brush", "]")

        self.outlines = action("Outlines", "O", "Show leaves as outlines instead of filled", checkable=True)
        self.show_kappa = action("κ on image", "K", "Overlay the κ(h_t) heat map of the shown step on the photo", checkable=True)
        self.fit = action("Fit to window", "0", "Show the whole image", SP.SP_TitleBarMaxButton)
        self.next_image = action("Next image", "PgDown", "Go to the next image", SP.SP_ArrowDown)
        self.previous_image = action("Previous image", "PgUp", "Go to the previous image", SP.SP_ArrowUp)
        for act in (self.delete_leaf, self.undo, self.redo):
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)

    @property
    def editing_tools(self) -> list[QAction]:
        return [act for tool, act in self.tools.items() if tool is not Tool.RULER]

    def build_menus(self, window: QMainWindow, dock_toggles: list[QAction]) -> None:
        bar = window.menuBar()
        menus = {
            "&File": [self.open_folder, self.output_folder, self.load_model, None, self.save, self.export, None, self.quit],
            "&Edit": [self.undo, self.redo, None, *self.editing_tools, None, self.new_leaf,
                      self.delete_leaf, self.fill_holes, self.protect_leaves, self.brush_smaller, self.brush_larger],
            "&Model": [self.segment, self.segment_all, self.cancel, None, self.crf, self.mirrored, None, self.fine_tune, self.models],
            "&Tools": [self.tools[Tool.RULER], self.tray_mode],
            "&View": [self.outlines, self.show_kappa, self.fit, None, self.previous_image,
                      self.next_image, None, *dock_toggles],
        }
        for title, actions in menus.items():
            menu = bar.addMenu(title)
            for act in actions:
                if act is None:
                    menu.addSeparator()
                else:
                    menu.addAction(act)

    def build_toolbars(self, window: QMainWindow) -> tuple[QToolBar, QToolBar]:
        """The main toolbar and the editing toolbar (the window adds its widgets)."""
        main = window.addToolBar("Main")
        main.setObjectName("main_toolbar")
        main.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for act in (self.open_folder, self.save, None, self.segment, self.segment_all, self.cancel, self.crf,
                    None, self.tools[Tool.RULER], self.tray_mode):
            main.addSeparator() if act is None else main.addAction(act)
        window.addToolBarBreak()
        edit = window.addToolBar("Edit")
        edit.setObjectName("edit_toolbar")
        edit.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for act in (self.undo, self.redo, None, *self.editing_tools, None, self.new_leaf,
                    self.delete_leaf, self.fill_holes, self.protect_leaves):
            edit.addSeparator() if act is None else edit.addAction(act)
        return main, edit
