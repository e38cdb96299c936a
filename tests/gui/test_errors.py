import logging
import sys
import threading

from leafcount.errors import ImageReadError
from leafcount.gui.errors import error_dialog, install_excepthooks, show_error


def test_a_leafcount_error_shows_its_message_only(qtbot, dialogs):
    show_error(None, ImageReadError("corrupt or truncated image", "plant001_rgb.png"))
    assert dialogs.seen == ["plant001_rgb.png: corrupt or truncated image"]


def test_an_unexpected_error_is_logged_with_details_folded_away(qtbot, dialogs, caplog):
    try:
        raise KeyError("oops")
    except KeyError as exc:
        error = exc
    with caplog.at_level(logging.ERROR, logger="leafcount.gui"):
        show_error(None, error)
    assert dialogs.seen == ["Something went wrong: KeyError: 'oops'"]
    assert "Traceback" in caplog.text
    box = error_dialog(None, error)
    assert "raise KeyError" in box.detailedText()


def test_excepthooks_turn_uncaught_errors_into_dialogs(qtbot, dialogs, monkeypatch, caplog):
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    install_excepthooks()

    def fail():
        raise ValueError("from a thread")

    with caplog.at_level(logging.ERROR, logger="leafcount.gui"):
        thread = threading.Thread(target=fail)
        thread.start()
        thread.join()
        qtbot.waitUntil(lambda: len(dialogs.seen) == 1)
        sys.excepthook(RuntimeError, RuntimeError("on the GUI thread"), None)
    assert dialogs.seen == [
        "Something went wrong: ValueError: from a thread",
        "Something went wrong: RuntimeError: on the GUI thread",
    ]
    assert caplog.text.count("uncaught exception") == 2
