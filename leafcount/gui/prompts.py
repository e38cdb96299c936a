"""Questions the window asks before it could lose or replace someone's work."""

from __future__ import annotations

import enum

from PySide6.QtWidgets import QMessageBox, QWidget


class Choice(enum.Enum):
    SAVE = "save"
    DISCARD = "discard"
    CANCEL = "cancel"


def ask_unsaved_changes(parent: QWidget | None, name: str) -> Choice:
    """Save / Discard / Cancel for an image with unsaved edits."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Unsaved changes")
    box.setText(f"{name} has unsaved changes.")
    box.setInformativeText("Save them before leaving this image?")
    Button = QMessageBox.StandardButton
    box.setStandardButtons(Button.Save | Button.Discard | Button.Cancel)
    box.setDefaultButton(Button.Save)
    answer = Button(box.exec())
    return {Button.Save: Choice.SAVE, Button.Discard: Choice.DISCARD}.get(answer, Choice.CANCEL)


def ask_restore_recovery(parent: QWidget | None, name: str, saved_at: str) -> bool:
    """Whether to bring back autosaved edits that were never saved."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Recover edits")
    box.setText(f"{name} has edits that were not saved (autosaved {saved_at}).")
    box.setInformativeText("Restore them? (Restoring can be undone.)")
    Button = QMessageBox.StandardButton
    box.setStandardButtons(Button.Yes | Button.No)
    box.setDefaultButton(Button.Yes)
    return Button(box.exec()) == Button.Yes


def ask_replace_foreign_labels(parent: QWidget | None, label_name: str) -> bool:
    """Whether to overwrite a label file that leafcount did not write (e.g. ground truth)."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Replace label file")
    box.setText(f"{label_name} was not written by leafcount (it may be ground truth).")
    box.setInformativeText("Replace it with your corrections? Choose an output folder to keep both.")
    Button = QMessageBox.StandardButton
    box.setStandardButtons(Button.Yes | Button.Cancel)
    box.setDefaultButton(Button.Cancel)
    return Button(box.exec()) == Button.Yes
