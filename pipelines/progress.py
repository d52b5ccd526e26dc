"""Progress of a run in process: asset-partitions done out of every asset × day of the range.

A single-run backfill builds asset by asset, each over every day, so a day is only complete when
the last asset finishes; counting days would sit at zero until the very end. The unit is
therefore one asset's partition of one day. Two sources feed the count, both observed, neither
estimated:

- the lake: a partition file (``lake/<table>/date=D/data.parquet``) replaced since the run
  began is done the moment it is renamed into place;
- the run's event log in the Dagster instance: when an asset's step ends, Dagster records a
  materialization per day, which also counts the partitions that publish no file (the catalog,
  an exchange outside the universe, a day outside a dataset's window).
"""

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg

from transforms import storage
from transforms.publish import PARTITION_FILE, partition_dir


@dataclass(frozen=True)
class Progress:
    """Asset-partitions done out of ``total``, ``elapsed`` seconds into the run."""

    done: int
    total: int
    elapsed: float

    @property
    def rate(self) -> float:
        """Asset-partitions per second so far."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the rate so far; None before anything is done."""
        return (self.total - self.done) / self.rate if self.rate > 0 else None

    @property
    def eta_text(self) -> str:
        return "—" if self.eta is None else _clock(self.eta)

    def line(self) -> str:
        """``37/90 asset-partitions (41%) · 2.1/s · elapsed 0:00:18 · ETA 0:00:25``."""
        percent = 100 * self.done / self.total if self.total else 100.0
        return (
            f"{self.done}/{self.total} asset-partitions ({percent:.0f}%) · "
            f"{self.rate:.1f}/s · elapsed {_clock(self.elapsed)} · ETA {self.eta_text}"
        )


def _clock(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


class RunProgress:
    """Watches one run (by id) from a background thread and reports each change of count."""

    def __init__(
        self,
        instance: dg.DagsterInstance,
        run_id: str,
        assets: Iterable[str],
        days: list[date],
        lake_root: Path,
        report: Callable[[Progress], None],
        poll_seconds: float = 1.0,
    ) -> None:
        self.instance = instance
        self.run_id = run_id
        self.assets = sorted(assets)
        self.days = days
        self.lake_root = lake_root
        self.report = report
        self.poll_seconds = poll_seconds
        self.done: set[tuple[str, str]] = set()
        self._wanted = {day.isoformat() for day in days}
        self._cursor: str | None = None
        self._reported = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="run-progress", daemon=True)
        self._started = time.monotonic()
        self._began = datetime.now(UTC)

    @property
    def total(self) -> int:
        return len(self.assets) * len(self.days)

    def __enter__(self) -> "RunProgress":
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        if exc_type is None:
            self.poll()

    def poll(self) -> Progress:
        """Count what is done now and report it if it changed (or was never reported)."""
        before = len(self.done)
        self._count_events()
        self._count_files()
        progress = Progress(len(self.done), self.total, time.monotonic() - self._started)
        if len(self.done) != before or not self._reported:
            self._reported = True
            self.report(progress)
        return progress

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.poll()
            # A display must neither stop the run nor print a thread's traceback: a poll that
            # fails (the instance unreadable on a full disk, say) ends the display, and the
            # run's own outcome says what happened.
            except Exception:
                return

    def _count_events(self) -> None:
        if self.instance.get_run_by_id(self.run_id) is None:
            return
        while True:
            connection = self.instance.get_records_for_run(
                self.run_id,
                cursor=self._cursor,
                of_type=dg.DagsterEventType.ASSET_MATERIALIZATION,
                limit=1000,
            )
            for record in connection.records:
                event = record.event_log_entry.dagster_event
                key = event.asset_key if event is not None else None
                partition = event.partition if event is not None else None
                if key is not None and partition in self._wanted:
                    self.done.add((key.to_user_string(), partition))
            self._cursor = connection.cursor
            if not connection.has_more:
                return

    def _count_files(self) -> None:
        for asset in self.assets:
            if not storage.exists(self.lake_root / asset):
                continue
            for day in self.days:
                key = (asset, day.isoformat())
                if key in self.done:
                    continue
                path = partition_dir(self.lake_root, asset, day) / PARTITION_FILE
                try:
                    if storage.modified_at(path) >= self._began:
                        self.done.add(key)
                except FileNotFoundError:
                    continue
