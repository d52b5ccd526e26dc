"""Ctrl-C and SIGTERM stop a run in process: the run is canceled and the command exits 130.

Dagster's in-process execution turns SIGINT (and SIGTERM, which it maps to SIGINT) into an
error raised at the next point where it runs project code; the step fails there and the run
stops. Dagster records that as a run *failure* ("no user initiated termination request") unless
the run was marked CANCELING first, which is what its own "terminate" does before it signals a
run worker. :class:`CancelOnSignal` does the same for a run the CLI executes itself: a thread
woken by the signal (through :func:`signal.set_wakeup_fd`, whichever Python handler is in place)
marks the run CANCELING at once, so that Dagster ends it as CANCELED; afterwards the run is made
CANCELED if it ended any other way than success.

What the interrupted run leaves is what a ``kill -9`` leaves: each partition is published by one
atomic swap, so nothing partial is visible, and the days it did not finish are rebuilt by the
next run.
"""

import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

import dagster as dg

STOPPING_SIGNALS = (signal.SIGINT, signal.SIGTERM)
EXIT_INTERRUPTED = 130
"""128 + SIGINT, what a shell reports for a command stopped by Ctrl-C."""


class RunInterruptedError(Exception):
    """The run (if one began) was stopped by a signal and is CANCELED, unless it had already
    succeeded when the signal came."""

    def __init__(self, signal_name: str, run_id: str | None, succeeded: bool = False) -> None:
        super().__init__(f"{signal_name} received")
        self.signal_name = signal_name
        self.run_id = run_id
        self.succeeded = succeeded


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops the command as Ctrl-C does (a ``KeyboardInterrupt``), instead of killing it
    before it can say so; only from the main thread, where Python handles signals."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class CancelOnSignal:
    """Around one in-process run: SIGINT or SIGTERM cancels run ``run_id`` in ``instance``.

    On leaving, raises :class:`RunInterruptedError` if a stopping signal came (the run is then
    CANCELED, or SUCCESS if it had finished before the signal took effect); a
    ``KeyboardInterrupt`` from before Dagster took over the signals becomes the same.
    """

    def __init__(self, instance: dg.DagsterInstance, run_id: str) -> None:
        self.instance = instance
        self.run_id = run_id
        self.received: str | None = None
        self._reader, self._writer = socket.socketpair()
        self._writer.setblocking(False)
        self._previous_fd = -1
        self._thread = threading.Thread(target=self._watch, name="run-cancel", daemon=True)

    def __enter__(self) -> "CancelOnSignal":
        if threading.current_thread() is threading.main_thread():
            self._previous_fd = signal.set_wakeup_fd(self._writer.fileno())
            self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._thread.is_alive():
            signal.set_wakeup_fd(self._previous_fd)
            self._writer.send(b"\0")  # not a signal number: the watcher's cue to stop
            self._thread.join()
        self._reader.close()
        self._writer.close()
        if self.received is None and exc_type is KeyboardInterrupt:
            self.received = signal.Signals.SIGINT.name
        if self.received is None:
            return
        raise RunInterruptedError(self.received, *self._settle()) from exc

    def _watch(self) -> None:
        while byte := self._reader.recv(1):
            number = byte[0]
            if number not in STOPPING_SIGNALS:
                if number == 0:
                    return
                continue
            if self.received is None:
                self.received = signal.Signals(number).name
                run = self.instance.get_run_by_id(self.run_id)
                if run is not None and not run.is_finished:
                    self.instance.report_run_canceling(
                        run, message=f"{self.received} received: canceling the run"
                    )

    def _settle(self) -> tuple[str | None, bool]:
        """The run's id (None if it was never created) and whether it had succeeded; a run that
        ended any other way is made CANCELED."""
        run = self.instance.get_run_by_id(self.run_id)
        if run is None:
            return None, False
        if run.status == dg.DagsterRunStatus.SUCCESS:
            return run.run_id, True
        if run.status != dg.DagsterRunStatus.CANCELED:
            self.instance.report_run_canceled(
                run, message=f"{self.received} received: the run was stopped"
            )
        return run.run_id, False
