"""A source that answered nothing: every due file of a day absent, the mark of a wrong URL.

One absent file is an answer (the archive has not published it, or a contract was not listed),
and a day with some files absent is published as far as it goes. But when every file a source
was asked for a day is absent although the day is due (see :mod:`transforms.publication`),
and none of its files for that day was served at all, the likeliest cause is the URL, not the
source: ``TREADMILL_BINANCE_URL`` one folder too deep (``…/data/``), or a folder that does not
exist. Such a day published only empty tables; it is reported as a failure, once per source,
with the URL asked first, instead of as a run that succeeded.

Read from the staged partitions' manifests, so that it sees every dataset of a source at once.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final, Literal

from transforms.clients import SourceRoot, source_root
from transforms.errors import NOT_FOUND
from transforms.manifests import read_manifest
from transforms.publication import due_at
from transforms.settings import Settings
from transforms.sources import DATASETS

NOT_ASKED: Final = frozenset({"outside_window", "superseded"})
"""Statuses of a symbol-day for which nothing was asked of the source."""

Answer = Literal["answered", "absent"]


@dataclass(frozen=True)
class SilentSource:
    """A source that answered no file of ``days``, every due one of them absent."""

    root: SourceRoot
    days: tuple[date, ...]
    first_url: str
    """The first URL asked on the first of ``days`` (datasets in registry order)."""

    def line(self) -> str:
        """One line a person can act on: the days, the first URL asked, the setting to check."""
        first, last = self.days[0], self.days[-1]
        days = f"{first}" if first == last else f"{len(self.days)} days ({first}…{last})"
        return (
            f"{self.root.name}: every due file of {days} is absent (404), e.g. "
            f"{self.first_url} — check that {self.root.setting} points at its root "
            f"(it is {self.root.url}), and that the universe's symbols were listed that day"
        )


def silent_sources(settings: Settings, days: Iterable[date], now: datetime) -> list[SilentSource]:
    """The sources (one per root URL) that answered no file of some of ``days`` although
    files of theirs were due, in registry order.

    A day counts only when at least one of its files is due and absent and no file of that day
    was served, whether due or not: a file published early shows the URL is right. A REST
    venue's empty answer (an instrument before its listing) is an answer, not an absence.
    """
    silent: dict[SourceRoot, list[tuple[date, str]]] = {}
    for day in sorted(days):
        for root, first_url in _silent_on(settings, day, now):
            silent.setdefault(root, []).append((day, first_url))
    return [
        SilentSource(root, tuple(day for day, _ in found), found[0][1])
        for root, found in silent.items()
    ]


def _silent_on(settings: Settings, day: date, now: datetime) -> list[tuple[SourceRoot, str]]:
    """Each source silent on ``day``, with the first due URL that was absent."""
    answered: set[SourceRoot] = set()
    first_absent: dict[SourceRoot, str] = {}
    for dataset in DATASETS:
        symbols = set(dataset.symbols_on(settings.symbols(dataset.exchange), day))
        root = source_root(dataset, settings) if symbols else None
        manifest = read_manifest(settings.manifest_root, dataset.table, day) if root else None
        if root is None or manifest is None:
            continue
        due = due_at(dataset, day, settings.publication_delays) <= now
        # Symbols of a wider universe carried over from an earlier run say nothing of this one.
        for entry in sorted(manifest["symbols"], key=lambda e: e["symbol"]):
            answer = _answer(entry) if entry["symbol"] in symbols else None
            if answer == "answered":
                answered.add(root)
            elif answer == "absent" and due:
                first_absent.setdefault(root, _url_asked(root, entry))
    return [(root, url) for root, url in first_absent.items() if root not in answered]


def _answer(entry: dict[str, Any]) -> Answer | None:
    """What the source said of one symbol-day; None when nothing was asked."""
    if entry["status"] in NOT_ASKED or not entry.get("source_file"):
        return None
    if entry["status"] == "failed" and f": {NOT_FOUND}" in (entry.get("error") or ""):
        return "absent"
    # A REST chunk the venue answered with no rows landed (it has a digest); a 404 did not.
    if entry["status"] == "not_published" and not entry.get("sha256"):
        return "absent"
    return "answered"


def _url_asked(root: SourceRoot, entry: dict[str, Any]) -> str:
    """The URL the symbol-day's file was asked at: a REST request's is the error's location."""
    error = entry.get("error")
    if error:
        return str(error).split(": ", 1)[0]
    return root.url_of(str(entry["source_file"]))


def silent_lines(settings: Settings, days: Sequence[date], now: datetime) -> list[str]:
    """:func:`silent_sources` as the lines a run reports."""
    return [source.line() for source in silent_sources(settings, days, now)]
