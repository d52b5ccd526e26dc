"""Resumable materialisation: which days of a range are already built from unchanged inputs.

After a run over a range succeeds, each of its days gets a record,
``<warehouse>/state/materialized/date=YYYY-MM-DD.json``, of what the day was built from:

- the **code version**: a digest of the code and SQL that shape the data (and the versions of
  DuckDB, PyArrow and Polars), so that any change to them rebuilds every day;
- the **universe**;
- the **inputs**: for every dataset and symbol, the archive file the day reads and its sha256
  (or that the archive had none), for the day itself and for the days after it that its facts
  read (a metrics file may carry the next day's 00:00 row, so day D reads D+1's metrics);
- the tables it published, and when coverage of a still-absent file turns from ``pending`` to
  ``missing`` (then the day is rebuilt, so that coverage says so). A day one of whose
  partitions is missing, damaged or not the file published (:mod:`transforms.lake_check`) is
  rebuilt too.

A later run over a range asks the archive for the ``.CHECKSUM`` of the inputs of each recorded
day in the range and compares. The first day whose record is missing or differs is where the
work starts, **and every later day of the range is rebuilt with it**: features read 30 trailing
days of facts and the heatmap's level book is carried from day to day, so a changed day changes
the days after it. What remains is therefore one contiguous range, one single-run backfill.
Days outside the range are compared with what the lake holds for them now.

A day whose run failed, or where a download failed, gets no record and is rebuilt next time. A
day with a quarantined file is recorded (the same file would fail the same way), with the
quarantine, so that skipping it still reports the file as bad.
A run killed midway records nothing: its days are rebuilt by the next run (files already
landed under ``raw/`` are re-used, not downloaded again).
"""

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any, Final

from transforms import storage
from transforms.catalog import lake_tables
from transforms.clients import ACCESS
from transforms.dataset import Dataset
from transforms.facts import FACT_MODELS
from transforms.features import FEATURE_MODELS
from transforms.lake_check import check_partition
from transforms.manifests import read_manifest
from transforms.publication import due_at
from transforms.settings import Settings, format_universe
from transforms.silence import silent_sources
from transforms.sources import DATASETS

LIBRARIES: Final = ("duckdb", "pyarrow", "polars")
"""Libraries whose version is part of the code version: they compute and write the data."""
ABSENT, UNSTAGED, FAILED, UNKNOWN = "absent", "unstaged", "failed", "unknown"
"""Input states besides a sha256: the archive has no such file; the lake never staged it; its
download failed; the archive did not answer (never equal to anything recorded)."""

Probe = Callable[[list[tuple[str, str]]], Mapping[str, str | Exception | None]]
"""Asks the archive for the published sha256 of (exchange, archive path) pairs: a sha256, None
for a 404, or the error."""


def code_version(roots: Iterable[Path]) -> str:
    """A digest of every Python, SQL and data file under ``roots`` and of :data:`LIBRARIES`."""
    digest = hashlib.sha256()
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.suffix in {".py", ".sql", ".json"}):
            if "__pycache__" in path.parts:
                continue
            digest.update(f"{root.name}/{path.relative_to(root)}\0".encode())
            digest.update(path.read_bytes())
    for library in LIBRARIES:
        digest.update(f"{library}=={metadata.version(library)}\0".encode())
    return digest.hexdigest()


def _forward_reach() -> dict[str, int]:
    """Staged tables read beyond the day, and how many days after it (metrics: one)."""
    reach: dict[str, int] = {}
    for model in (*FACT_MODELS, *FEATURE_MODELS):
        for model_input in model.inputs:
            for table in model_input.tables:
                reach[table] = max(reach.get(table, 0), model_input.days_after)
    return reach


@dataclass(frozen=True)
class Input:
    """One archive file a day reads: for ``dataset``, ``symbol`` and the day ``day``."""

    dataset: Dataset
    symbol: str
    day: date
    relpath: str

    @property
    def key(self) -> str:
        return f"{self.dataset.table}/{self.day.isoformat()}/{self.symbol}"


def day_inputs(settings: Settings, day: date) -> list[Input]:
    """Every archive file or REST chunk whose content can change what ``day``'s partitions hold.

    A REST fallback (Binance's current month of funding) is left out: it serves a day only
    while the archive file is absent, and the archive file's appearance is what changes it.
    """
    reach = _forward_reach()
    inputs = []
    for dataset in DATASETS:
        if dataset.fallback_for is not None:
            continue
        for offset in range(reach.get(dataset.table, 0) + 1):
            input_day = day + timedelta(days=offset)
            if not dataset.is_available(input_day):
                continue
            for symbol in dataset.symbols_on(settings.symbols(dataset.exchange), input_day):
                relpath = dataset.archive_path(symbol, input_day)
                inputs.append(Input(dataset, symbol, input_day, relpath))
    return inputs


def _entries(settings: Settings, inputs: Iterable[Input]) -> dict[str, dict[str, Any] | None]:
    """Each input's entry in its staged partition's manifest (None: never staged)."""
    manifests: dict[tuple[str, date], dict[str, Any] | None] = {}
    entries: dict[str, dict[str, Any] | None] = {}
    for item in inputs:
        where = (item.dataset.table, item.day)
        if where not in manifests:
            manifests[where] = read_manifest(settings.manifest_root, *where)
        manifest = manifests[where]
        by_symbol = {e["symbol"]: e for e in manifest["symbols"]} if manifest else {}
        entries[item.key] = by_symbol.get(item.symbol)
    return entries


def lake_state(settings: Settings, inputs: Iterable[Input]) -> dict[str, str]:
    """What the lake's manifests say each input was when it was last staged."""
    state = {}
    for key, entry in _entries(settings, inputs).items():
        if entry is None:
            state[key] = UNSTAGED
        elif entry["status"] in ("ok", "quarantined") and entry.get("sha256"):
            state[key] = entry["sha256"]
        elif entry["status"] == "failed":
            state[key] = FAILED
        else:
            state[key] = ABSENT
    return state


def record_path(settings: Settings, day: date) -> Path:
    """Where the record of what ``day`` was built from is kept."""
    return settings.build_record_root / f"date={day.isoformat()}.json"


def record_days(
    settings: Settings, days: Iterable[date], code: str, run_id: str, now: datetime
) -> list[date]:
    """Record what each of ``days`` was just built from; return the days recorded.

    Call it after a run over ``days`` succeeded. A day with a failed download, or on which a
    source answered no file at all (:mod:`transforms.silence`), is not recorded (and any older
    record of it is removed), so that the next run builds it again.
    """
    recorded = []
    tables = lake_tables(settings.lake_root)
    days = list(days)
    silent = {day for source in silent_sources(settings, days, now) for day in source.days}
    for day in days:
        inputs = day_inputs(settings, day)
        state = lake_state(settings, inputs)
        entries = _entries(settings, [item for item in inputs if item.day == day])
        path = record_path(settings, day)
        if FAILED in state.values() or day in silent:
            storage.delete(path)
            continue
        dues = [
            due_at(item.dataset, item.day, settings.publication_delays)
            for item in inputs
            if item.day == day and state[item.key] == ABSENT
        ]
        refresh_after = min((due for due in dues if due > now), default=None)
        published = [
            table for table in tables if storage.partition_exists(settings.lake_root, table, day)
        ]
        storage.write_json(
            path,
            {
                "date": day.isoformat(),
                "run_id": run_id,
                "code_version": code,
                "universe": format_universe(settings.universe),
                "inputs": dict(sorted(state.items())),
                "tables": published,
                "quarantined": sorted(
                    key
                    for key, entry in entries.items()
                    if entry and entry["status"] == "quarantined"
                ),
                "refresh_after": refresh_after.isoformat() if refresh_after else None,
            },
            settings.temp_root,
        )
        recorded.append(day)
    return recorded


@dataclass(frozen=True)
class ResumePlan:
    """What a run over ``first..last`` still has to do."""

    first: date
    last: date
    done: tuple[date, ...]
    """Leading days already published from unchanged inputs: skipped."""
    reason: str | None
    """Why the first remaining day is rebuilt; None when nothing remains."""
    quarantined: tuple[str, ...] = ()
    """Inputs of skipped days that were quarantined when they were built: still bad."""

    @property
    def remaining(self) -> tuple[date, date] | None:
        """The contiguous range left to build, or None."""
        start = self.first + timedelta(days=len(self.done))
        return (start, self.last) if start <= self.last else None


def plan_resume(
    settings: Settings,
    first: date,
    last: date,
    code: str,
    now: datetime,
    probe: Probe,
) -> ResumePlan:
    """Skip the leading days of ``first..last`` whose record still matches; see the module."""
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    candidates: list[tuple[date, dict[str, Any]]] = []
    reason = None
    for day in days:
        record = _read_record(settings, day)
        reason = _record_problem(settings, day, record, code, now)
        if reason is not None:
            break
        assert record is not None
        candidates.append((day, record))
    inputs = {day: day_inputs(settings, day) for day, _ in candidates}
    # Inputs inside the range will be staged from the archive as it is now; those after it
    # are read from the lake as it is now.
    in_range = {
        i.relpath: i
        for items in inputs.values()
        for i in items
        if i.day <= last and ACCESS[i.dataset.source].local_digest is None
    }
    published = probe([(item.dataset.exchange, relpath) for relpath, item in in_range.items()])
    done: list[date] = []
    for day, record in candidates:
        state = lake_state(settings, [item for item in inputs[day] if item.day > last])
        for item in inputs[day]:
            if item.day <= last:
                # A source that publishes checksums was asked above; the others are read locally.
                local_digest = ACCESS[item.dataset.source].local_digest
                answer = (
                    published.get(item.relpath)
                    if local_digest is None
                    else local_digest(item.dataset, settings, item.relpath, item.day, now)
                )
                state[item.key] = (
                    answer if isinstance(answer, str) else ABSENT if answer is None else UNKNOWN
                )
        changed = sorted(set(state) ^ set(record["inputs"])) or sorted(
            key for key in state if state[key] != record["inputs"][key]
        )
        if changed:
            reason = f"{day}: input {changed[0]} changed since it was built"
            break
        done.append(day)
    quarantined = tuple(
        key for day, record in candidates[: len(done)] for key in record["quarantined"]
    )
    return ResumePlan(first, last, tuple(done), reason, quarantined)


def _read_record(settings: Settings, day: date) -> dict[str, Any] | None:
    record: dict[str, Any] | None = storage.read_json_if_exists(record_path(settings, day))
    return record


def _record_problem(
    settings: Settings, day: date, record: dict[str, Any] | None, code: str, now: datetime
) -> str | None:
    """Why ``day`` must be rebuilt whatever the archive says, or None."""
    if record is None:
        return f"{day}: not built yet by a completed run"
    if record["code_version"] != code:
        return f"{day}: built by other code"
    if record["universe"] != format_universe(settings.universe):
        return f"{day}: built for another universe ({record['universe']})"
    refresh_after = record.get("refresh_after")
    if refresh_after and now >= datetime.fromisoformat(refresh_after):
        return f"{day}: a file still absent is now past due, and coverage must say so"
    for table in record["tables"]:
        check = check_partition(settings.lake_root, table, day)
        if check.bad:
            return f"{day}: {table} partition {check.path} is {check.describe()}"
    return None
