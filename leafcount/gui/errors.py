"""The GUI's one error dialog, and hooks that turn unexpected exceptions into it.

Expected problems (a bad image, a corrupt checkpoint) are ``LeafcountError``s
whose message already names the file; they get a plain dialog. Anything else
is a bug: it is logged with its traceback and shown as a generic dialog with
the details folded away, and the app keeps running.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from types import TracebackType

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from leafcount.errors import LeafcountError

log = logging.getLogger("leafcount.gui")


def error_dialog(parent: QWidget | None, exc: BaseException) -> QMessageBox:
    """The dialog ``show_error`` shows, built but not yet shown."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("leafcount")
    if isinstance(exc, LeafcountError):
        box.setText(str(exc))
    else:
        box.setText(f"Something went wrong: {type(exc).__name__}: {exc}")
        box.setInformativeText("Your work is still open. Details are in the log.")
        box.setDetailedText("".join(traceback.format_exception(exc)))
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return box


_dialogs_enabled = True


def disable_dialogs() -> None:
    """Log errors instead of showing dialogs (unattended runs such as --screenshot)."""
    global _dialogs_enabled
    _dialogs_enabled = False


def show_error(parent: QWidget | None, exc: BaseException) -> None:
    """Show one modal dialog for ``exc``; log the traceback if it is unexpected."""
    if not isinstance(exc, LeafcountError):
        log.error("unexpected error", exc_info=(type(exc), exc, exc.__traceback__))
    elif not _dialogs_enabled:
        log.error("%s", exc)
    if _dialogs_enabled:
        error_dialog(parent, exc).exec()


class _ErrorRelay(QObject):
    """Carries exceptions raised on any thread to the GUI thread."""

    raised = Signal(object)


_relay: _ErrorRelay | None = None


def install_excepthooks() -> None:
    """Route uncaught exceptions (GUI thread and other threads) to ``show_error``."""
    global _relay
    _relay = _ErrorRelay()
    # The hook has logged the traceback already; the dialog only informs.
    _relay.raised.connect(
        lambda exc: _dialogs_enabled and error_dialog(QApplication.activeWindow(), exc).exec()
    )

    def excepthook(
        kind: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, exc, tb)
            return
        log.error("uncaught exception", exc_info=(kind, exc, tb))
        _relay.raised.emit(exc)

    def thread_excepthook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            excepthook(args.exc_type, args.exc_value, args.exc_traceback)

    sys.excepthook = excepthook
    threading.excepthook = thread_excepthook
