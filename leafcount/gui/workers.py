"""One worker for every background job: a core call on a QThread (napari's ``create_worker``).

A job is a plain callable ``job(cancel, emit)``: it may return a value, or a
generator whose items become ``yielded`` signals and whose return value
becomes ``returned``; callback-style core functions pass ``emit`` as their
callback. The worker checks the job's CancelToken between the generator's
items, the core checks it between its steps, and threads are never
terminated. Signals carry plain data; widgets change in slots on the GUI
thread. A worker ends with exactly one of ``returned``, ``cancelled`` or
``failed(exc)``, then ``done``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from leafcount.cancel import CancelToken
from leafcount.errors import Cancelled

Emit = Callable[[object], None]
Job = Callable[[CancelToken, Emit], object]


class Worker(QObject):
    """Runs one job; ``kind`` names what it does, for :class:`JobRunner`'s questions."""

    yielded = Signal(object)
    returned = Signal(object)
    failed = Signal(object)  # the exception
    cancelled = Signal()
    done = Signal()  # after any outcome; the runner quits the thread on it

    def __init__(self, job: Job, kind: str = "") -> None:
        super().__init__()
        self.kind = kind
        self.cancel_token = CancelToken()
        self._job = job

    @Slot()
    def run(self) -> None:
        try:
            outcome = self._job(self.cancel_token, self.yielded.emit)
            if isinstance(outcome, Generator):
                outcome = self._drain(outcome)
        except Cancelled:
            self.cancelled.emit()
        except Exception as exc:  # noqa: BLE001 - every failure goes to the GUI as a signal
            self.failed.emit(exc)
        else:
            self.returned.emit(outcome)
        finally:
            self.done.emit()

    def cancel(self) -> None:
        self.cancel_token.set()

    def _drain(self, generator: Generator) -> object:
        while True:
            self.cancel_token.raise_if_cancelled()
            try:
                item = next(generator)
            except StopIteration as end:
                self.cancel_token.raise_if_cancelled()
                return end.value
            self.yielded.emit(item)


class JobRunner(QObject):
    """Starts workers on their own threads and keeps them alive until they end."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs: dict[Worker, QThread] = {}

    def start(self, worker: Worker) -> None:
        thread = QThread()
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        # Direct: the thread must quit even while the GUI thread waits in shutdown().
        worker.done.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        worker.done.connect(self._on_worker_done)
        self._jobs[worker] = thread
        thread.start()

    def is_running(self, kind: str | None = None) -> bool:
        return any(kind is None or worker.kind == kind for worker in self._jobs)

    def cancel(self, kind: str | None = None) -> None:
        for worker in list(self._jobs):
            if kind is None or worker.kind == kind:
                worker.cancel()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel every job and wait for its thread; True when all ended in time."""
        self.cancel()
        ended = all([thread.wait(timeout_ms) for thread in self._jobs.values()])
        if ended:
            self._jobs.clear()
        return ended

    @Slot()
    def _on_worker_done(self) -> None:
        worker = self.sender()
        thread = self._jobs.pop(worker, None)
        if thread is not None:
            thread.wait()  # it is quitting already; this only joins it
            thread.deleteLater()
            worker.deleteLater()
