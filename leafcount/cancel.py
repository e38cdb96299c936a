"""Cooperative cancellation shared by the CLI, the GUI workers and the core."""

from __future__ import annotations

import threading

from leafcount.errors import Cancelled


class CancelToken(threading.Event):
    """Set by whoever wants a job to stop; checked by the job between steps.

    Long loops call :meth:`raise_if_cancelled` at safe points (between
    recurrent steps, images or training iterations) so a job never stops
    half-way through writing something.
    """

    def raise_if_cancelled(self) -> None:
        if self.is_set():
            raise Cancelled("stopped by the user")
