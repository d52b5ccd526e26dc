"""Fetch paged REST history into ``raw/``: verbatim pages, paced, resumable and checked.

A chunk is every page of one endpoint for one symbol and period (a month of funding, a day of
5-minute open interest), landed under ``raw/<exchange>/<endpoint>/<symbol>/<period>/``:

- ``page-00001.json``: the response body exactly as received, written atomically;
- ``page-00001.request.json``: the request that produced it (URL with its query), the body's
  sha256 and size, its first and last instants, when it was fetched, and the cursor that
  continues the range after it;
- ``complete.json``: written once the last page is in: the range, whether it was closed (ended
  more than :data:`SETTLE` before the fetch), every page's sha256 and the chunk's digest (the
  sha256 of the pages' sha256s, one per line).

**Re-use.** A closed chunk never changes at the venue: a later run verifies its pages against
their sha256 and reads them without a request. An open chunk (this month's funding, today's open
interest) is fetched again each time, since the venue adds rows to it.

**Resume.** Pages land one by one with their cursor; after a crash (or a bad page), the next
fetch of the same range verifies the pages already landed and continues from the cursor of the
last one instead of starting over.

**Pace and retries.** Each venue's requests are spread evenly to its rate limit
(:class:`Pacer`). A 429 (or a venue's in-body "too many requests") waits the ``Retry-After`` it
names, then is retried; 5xx, timeouts and resets are retried with exponential backoff and full
jitter (:mod:`transforms.transport`). The seconds spent waiting on the limit are counted.

**Bad pages.** A body that is not the endpoint's JSON, an empty page in the middle of the range,
a page that repeats the previous one, or an instant outside the requested range raises
:class:`PageError` naming the URL; the body is kept beside the quarantine for inspection, and
nothing of the chunk is published.
"""

import hashlib
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final, TypeVar

import pyarrow as pa

from transforms import storage, transport
from transforms.dataset import Cadence, Dataset, ParsedFile
from transforms.endpoints import (
    Endpoint,
    PageContent,
    PageShapeError,
    Paging,
    RateLimit,
    RateLimitedError,
)
from transforms.errors import NOT_FOUND, FetchError, ParseError
from transforms.fetch import FetchOutcome, Landed, NotPublished, fetch_each
from transforms.schemas import TIMESTAMP
from transforms.settings import Limits
from transforms.sources.rest import ms

SETTLE: Final = timedelta(hours=1)
"""How long after a period ends its rows are taken as final at the venue."""
IN_BODY_RETRY_AFTER: Final = 1.0
"""Seconds to hold a venue back after it said "too many requests" in a body: it names none."""
COMPLETE_FILE: Final = "complete.json"
PAGE_CHECK: Final = "pages_valid"
"""The gate a chunk with a bad page fails (its symbol-day is quarantined)."""
MAX_PAGE_BYTES: Final = 64 * 1024**2
MAX_PAGES: Final = 10_000
_CHUNK = re.compile(r"[a-z_]+/[A-Z0-9_\-]+/\d{4}-\d{2}(?:-\d{2})?")
T = TypeVar("T")


class PageError(FetchError):
    """A page that is not what the endpoint promises; quarantines its chunk."""

    check = PAGE_CHECK


class Pacer:
    """Spreads one venue's requests evenly over its rate limit, across threads.

    ``hold`` pushes every later request back (a 429's ``Retry-After``). ``waited_seconds`` is
    the time requests spent waiting for their slot.
    """

    def __init__(self, limit: RateLimit) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._next_slot = 0.0
        self.waited_seconds = 0.0

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self.limit.interval
            delay = slot - now
            self.waited_seconds += delay
        if delay > 0:
            time.sleep(delay)

    def hold(self, seconds: float) -> None:
        with self._lock:
            self._next_slot = max(self._next_slot, time.monotonic() + seconds)


@dataclass
class HistoryStats:
    """What a client did: requests sent, pages landed or re-used, time waiting on the limit."""

    requests: int = 0
    pages_fetched: int = 0
    pages_reused: int = 0
    rate_limited: int = 0
    """Requests the venue refused as over its limit (each waited and retried)."""
    chunks: dict[str, str] = field(default_factory=dict)
    """Each chunk's origin: downloaded, reused."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def chunk_range(dataset: Dataset, relpath: str) -> tuple[str, datetime, datetime]:
    """(symbol, period start, period end) of a chunk path ``<endpoint>/<symbol>/<period>``."""
    if not _CHUNK.fullmatch(relpath):
        raise FetchError(relpath, "refusing a chunk path outside the raw tree")
    _, symbol, period = relpath.split("/")
    if dataset.cadence is Cadence.MONTHLY:
        first = date.fromisoformat(f"{period}-01")
    else:
        first = date.fromisoformat(period)
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    following = dataset.period_end(first)
    return symbol, start, datetime(following.year, following.month, following.day, tzinfo=UTC)


@dataclass(frozen=True)
class _Cursor:
    start_ms: int
    end_ms: int
    token: str | None = None


class HistoryClient:
    """Fetches the chunks of one REST dataset into ``raw/<exchange>/``.

    It has the archive client's interface (:meth:`fetch`, :meth:`map_fetched`), so staging
    treats a chunk like an archive file: its ``Landed.path`` is the chunk's folder and its
    ``sha256`` the chunk's digest.
    """

    def __init__(
        self,
        dataset: Dataset,
        base_url: str,
        raw_root: Path,
        limits: Limits | None = None,
        pacer: Pacer | None = None,
        temp_dir: Path | None = None,
        rejected_root: Path | None = None,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        if dataset.endpoint is None:
            raise ValueError(f"{dataset.table} is not a REST dataset")
        if not base_url.startswith(("http://", "https://")):
            raise FetchError(base_url, "a REST venue needs an http:// or https:// base URL")
        self.dataset = dataset
        self.endpoint: Endpoint = dataset.endpoint
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.raw_root = raw_root
        self.limits = limits or Limits()
        self.pacer = pacer or Pacer(self.endpoint.venue.rate_limit)
        self.temp_dir = temp_dir
        self.rejected_root = rejected_root
        """Where bodies of bad pages are kept for inspection (never under ``raw/``)."""
        self.now = now
        self.stats = HistoryStats()
        self._stats_lock = threading.Lock()
        self._http = transport.http_client(self.limits, accept="application/json")

    def __enter__(self) -> "HistoryClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    @property
    def url(self) -> str:
        return urllib.parse.urljoin(self.base_url, self.endpoint.path)

    def fetch(self, relpath: str) -> FetchOutcome:
        """Land the chunk ``relpath`` (or re-use it) and say where it is."""
        symbol, start, end = chunk_range(self.dataset, relpath)
        now = self.now()
        if start >= now:
            return NotPublished(relpath, self.url)
        folder = self.raw_root / relpath
        closed = end + SETTLE <= now
        range_end = min(end, now.replace(microsecond=0))
        cursor = _Cursor(ms(start), ms(range_end) - 1)
        reused = self._reuse_closed(folder, cursor)
        if reused is not None:
            self._count(pages_reused=len(reused))
            return self._landed(relpath, folder, reused, "reused")
        pages, fetched = self._page_through(folder, symbol, cursor, closed)
        records = sum(
            storage.read_json(folder / name.replace(".json", ".request.json"))["records"]
            for name, _ in pages
        )
        digests = [sha for _, sha in pages]
        chunk = _chunk_digest(digests)
        storage.write_json(
            folder / COMPLETE_FILE,
            {
                "range": [cursor.start_ms, cursor.end_ms],
                "closed": closed,
                "pages": [{"file": name, "sha256": sha} for name, sha in pages],
                "records": records,
                "sha256": chunk,
                "completed_at": now.isoformat(),
            },
            self.temp_dir,
        )
        return self._landed(relpath, folder, pages, "downloaded" if fetched else "reused")

    def _landed(
        self, relpath: str, folder: Path, pages: list[tuple[str, str]], origin: str
    ) -> Landed:
        with self._stats_lock:
            self.stats.chunks[relpath] = origin
        return Landed(relpath, folder, _chunk_digest([sha for _, sha in pages]), origin)  # type: ignore[arg-type]

    def _reuse_closed(self, folder: Path, cursor: _Cursor) -> list[tuple[str, str]] | None:
        """The pages of a closed chunk landed before, verified; None when it must be fetched."""
        info = storage.read_json_if_exists(folder / COMPLETE_FILE)
        if info is None:
            return None
        if not info.get("closed") or info.get("range") != [cursor.start_ms, cursor.end_ms]:
            return None
        pages = [(page["file"], page["sha256"]) for page in info["pages"]]
        for name, sha in pages:
            path = folder / name
            if not storage.exists(path) or storage.sha256_of(path) != sha:
                return None
        return pages

    def _resumable(self, folder: Path, cursor: _Cursor, closed: bool) -> list[dict[str, Any]]:
        """Pages landed by an unfinished fetch of the same range, verified, in order.

        Anything else in the folder (an older range of an open period, pages fetched before the
        range settled, a torn page) is removed: the chunk starts over from the first page that
        is not good.
        """
        if not storage.exists(folder):
            return []
        storage.delete(folder / COMPLETE_FILE)
        kept: list[dict[str, Any]] = []
        for number in range(1, MAX_PAGES + 1):
            page, request = _page_files(folder, number)
            if not (storage.exists(page) and storage.exists(request)):
                break
            info = storage.read_json(request)
            if info.get("range") != [cursor.start_ms, cursor.end_ms]:
                break
            # Fetched within SETTLE of the range's end, a page may lack a late row: a closed
            # range never resumes from it.
            if info.get("closed") != closed:
                break
            if storage.sha256_of(page) != info.get("sha256"):
                break
            kept.append(info)
        for stale in storage.listing(folder, "page-*.json"):
            number = int(stale.name.split(".")[0].split("-")[1])
            if number > len(kept):
                storage.delete(stale)
        return kept

    def _page_through(
        self, folder: Path, symbol: str, cursor: _Cursor, closed: bool
    ) -> tuple[list[tuple[str, str]], bool]:
        """Fetch the chunk's pages from where an earlier attempt stopped; return them all."""
        landed = self._resumable(folder, cursor, closed)
        pages = [(_page_files(folder, i + 1)[0].name, p["sha256"]) for i, p in enumerate(landed)]
        previous: dict[str, Any] | None = landed[-1] if landed else None
        state: _Cursor | None = cursor
        if previous is not None:
            following = previous.get("next")
            state = _Cursor(**following) if following else None
            self._count(pages_reused=len(landed))
        fetched = False
        while state is not None:
            if len(pages) >= MAX_PAGES:
                raise PageError(self.url, f"more than {MAX_PAGES} pages for one range")
            query = self.endpoint.query(
                symbol, state.start_ms, state.end_ms, self.endpoint.page_limit, state.token
            )
            url = f"{self.url}?{urllib.parse.urlencode(query)}"
            body = self._get(url)
            content = self._check_page(url, body, cursor, state, previous, folder, len(pages) + 1)
            following = self._advance(url, content, cursor, state, first=not pages)
            number = len(pages) + 1
            page_path, request_path = _page_files(folder, number)
            sha = hashlib.sha256(body).hexdigest()
            instants = list(content.instants_ms)
            request = {
                "url": url,
                "params": query,
                "sha256": sha,
                "bytes": len(body),
                "records": len(content.records),
                "first_ts": min(instants) if instants else None,
                "last_ts": max(instants) if instants else None,
                "range": [cursor.start_ms, cursor.end_ms],
                "closed": closed,
                "next": following.__dict__ if following else None,
                "fetched_at": self.now().isoformat(),
            }
            storage.write_bytes(page_path, body, self.temp_dir)
            storage.write_json(request_path, request, self.temp_dir)
            self._count(pages_fetched=1)
            pages.append((page_path.name, sha))
            previous, state, fetched = request, following, True
        return pages, fetched

    def _check_page(
        self,
        url: str,
        body: bytes,
        chunk: _Cursor,
        state: _Cursor,
        previous: dict[str, Any] | None,
        folder: Path,
        number: int,
    ) -> PageContent:
        def reject(problem: str) -> PageError:
            kept = self._keep_rejected(folder, number, body)
            where = f" (body kept at {kept})" if kept else ""
            return PageError(url, problem + where)

        try:
            content = self.endpoint.unpack(json.loads(body))
        except RateLimitedError as exc:
            raise FetchError(url, f"still rate limited after the retries: {exc}", True) from exc
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise reject(f"body is not JSON ({exc}); starts {body[:60]!r}") from exc
        except PageShapeError as exc:
            raise reject(f"body is not the expected JSON: {exc}") from exc
        instants = list(content.instants_ms)
        outside = [t for t in instants if not chunk.start_ms <= t <= chunk.end_ms]
        if outside:
            raise reject(
                f"{len(outside)} timestamp(s) outside the requested range "
                f"[{chunk.start_ms}, {chunk.end_ms}], e.g. {outside[0]}"
            )
        repeats = previous is not None and (
            hashlib.sha256(body).hexdigest() == previous["sha256"]
            or (
                bool(instants)
                and min(instants) == previous["first_ts"]
                and max(instants) == previous["last_ts"]
            )
        )
        if repeats:
            raise reject("page repeats the previous one (the cursor did not advance)")
        if not instants and previous is not None:
            self._check_empty_page(reject, chunk, state, content, previous)
        return content

    def _check_empty_page(
        self,
        reject: Callable[[str], PageError],
        chunk: _Cursor,
        state: _Cursor,
        content: PageContent,
        previous: dict[str, Any],
    ) -> None:
        """An empty page may end a range; not when the range goes on beyond it."""
        step = self.endpoint.step_ms
        paging = self.endpoint.paging
        if paging is Paging.PAGE_TOKEN:
            gap = bool(content.next_token)
        elif paging is Paging.FORWARD_TIME:
            gap = chunk.end_ms - previous["last_ts"] > step
        else:
            gap = previous["first_ts"] - chunk.start_ms > step
        if gap:
            raise reject(
                "empty page in the middle of the range "
                f"(previous page ended at {previous['first_ts']}…{previous['last_ts']})"
            )

    def _advance(
        self, url: str, content: PageContent, chunk: _Cursor, state: _Cursor, first: bool
    ) -> _Cursor | None:
        """The cursor of the next page, or None when the range is done."""
        instants = list(content.instants_ms)
        paging = self.endpoint.paging
        if paging is Paging.PAGE_TOKEN:
            return (
                _Cursor(state.start_ms, state.end_ms, content.next_token)
                if (content.next_token and instants)
                else None
            )
        if len(instants) < self.endpoint.page_limit:
            return None
        if paging is Paging.FORWARD_TIME:
            following = max(instants) + 1
            return _Cursor(following, state.end_ms) if following <= chunk.end_ms else None
        earlier = min(instants) - 1
        return _Cursor(state.start_ms, earlier) if earlier >= chunk.start_ms else None

    def _keep_rejected(self, folder: Path, number: int, body: bytes) -> Path | None:
        if self.rejected_root is None:
            return None
        relative = folder.relative_to(self.raw_root)
        path = self.rejected_root / relative / f"page-{number:05d}.json"
        storage.write_bytes(path, body, self.temp_dir)
        return path

    def _count(self, **increments: int) -> None:
        with self._stats_lock:
            for name, value in increments.items():
                setattr(self.stats, name, getattr(self.stats, name) + value)

    def _get(self, url: str) -> bytes:
        """GET ``url`` at the venue's pace; retries 429 (after its Retry-After), 5xx, resets.

        The wait a venue names goes to the pacer, so that its every other request waits too.
        """
        return transport.with_retries(
            self.limits, url, lambda: self._get_once(url), hold=self.pacer.hold
        )

    def _get_once(self, url: str) -> bytes:
        self.pacer.wait()
        self._count(requests=1)
        with transport.http_errors(url):
            response = self._http.get(url)
        if response.status_code == 429:
            self._count(rate_limited=1)
        transport.raise_if_transient(response)
        if response.status_code == 404:
            raise FetchError(url, f"{NOT_FOUND}: {response.text[:200]!r}")
        if response.status_code != 200:
            raise FetchError(
                url, f"unexpected HTTP {response.status_code}: {response.text[:200]!r}"
            )
        if len(response.content) > MAX_PAGE_BYTES:
            raise FetchError(url, f"page of {len(response.content)} bytes exceeds the cap")
        if self._rate_limited_body(response.content):
            self._count(rate_limited=1)
            raise transport.TransientError("rate limited in the body", IN_BODY_RETRY_AFTER)
        return response.content

    def _rate_limited_body(self, body: bytes) -> bool:
        """Whether the venue said "too many requests" inside a 200 (Bybit 10006, OKX 50011).

        Checked here, inside the retry loop, so that it waits and retries like a 429 and holds
        the venue's other requests back; any other problem of the body is the page check's.
        """
        try:
            self.endpoint.unpack(json.loads(body))
        except RateLimitedError:
            return True
        except (ValueError, UnicodeDecodeError):
            return False
        return False

    def map_fetched(
        self,
        relpaths: Iterable[str],
        handle: Callable[[str, FetchOutcome | FetchError], T],
    ) -> dict[str, T]:
        """Fetch each chunk and pass its outcome to ``handle``; one failure stops no other.

        Chunks go side by side (``Limits.concurrency``); the pacer keeps them to the rate.
        """

        return fetch_each(
            self.fetch,
            relpaths,
            handle,
            self.limits.concurrency,
            lambda relpath: f"{self.url} {relpath}",
        )


def landed_digest(
    dataset: Dataset, raw_root: Path, relpath: str, now: datetime
) -> str | FetchError | None:
    """The digest of a closed chunk as landed, for resume, without a request.

    None when the period has not begun (nothing to fetch yet); a :class:`FetchError` for a chunk
    still open at the venue or never landed: only fetching it tells what it holds.
    """
    _, start, end = chunk_range(dataset, relpath)
    if start >= now:
        return None
    if end + SETTLE > now:
        return FetchError(relpath, "the range is still open at the venue")
    info = storage.read_json_if_exists(raw_root / relpath / COMPLETE_FILE)
    if info is None:
        return FetchError(relpath, "not landed yet")
    if not info.get("closed"):
        return FetchError(relpath, "landed while the range was open")
    if info.get("records") == 0:
        return None  # staged as not published: the venue has nothing for the range
    digest: str = info["sha256"]
    return digest


def _page_files(folder: Path, number: int) -> tuple[Path, Path]:
    return folder / f"page-{number:05d}.json", folder / f"page-{number:05d}.request.json"


def _chunk_digest(page_digests: Iterable[str]) -> str:
    return hashlib.sha256("".join(f"{sha}\n" for sha in page_digests).encode()).hexdigest()


def chunk_pages(folder: Path) -> list[tuple[str, bytes, str]]:
    """(page file, body, request URL) of a landed chunk, in page order."""
    info = storage.read_json(folder / COMPLETE_FILE)
    pages = []
    for page in info["pages"]:
        request = storage.read_json(folder / page["file"].replace(".json", ".request.json"))
        pages.append((page["file"], storage.read_bytes(folder / page["file"]), request["url"]))
    return pages


def parse_chunk(dataset: Dataset, symbol: str, folder: Path, relpath: str) -> ParsedFile:
    """The staged table of a landed chunk: every page's records, exact repeats dropped.

    Rows are sorted by their instant. A record that appears twice with the same content (pages
    of a moving range may overlap) is dropped and counted; two different records for one
    instant are both kept, so the uniqueness gate quarantines the chunk.
    """
    assert dataset.endpoint is not None
    endpoint = dataset.endpoint
    records: list[Any] = []
    instants: list[int] = []
    seen: set[str] = set()
    dropped: list[int] = []
    for _, body, url in chunk_pages(folder):
        try:
            content = endpoint.unpack(json.loads(body))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(url, f"landed page no longer parses: {exc}", PAGE_CHECK) from exc
        for record, instant in zip(content.records, content.instants_ms, strict=True):
            key = json.dumps(record, sort_keys=True)
            if key in seen:
                dropped.append(instant)
                continue
            seen.add(key)
            records.append(record)
            instants.append(instant)
    period = relpath.rsplit("/", 1)[1]
    try:
        table = endpoint.to_table(
            records, dataset.exchange, symbol, endpoint.source_file(symbol, period)
        )
    except PageShapeError as exc:
        raise ParseError(relpath, f"records do not convert: {exc}", PAGE_CHECK) from exc
    return ParsedFile(
        table=table,
        rows_read=len(records) + len(dropped),
        duplicates_dropped=len(dropped),
        had_header=False,
        timestamp_unit="ms",
        dropped_instants=pa.array(dropped, pa.int64()).cast(TIMESTAMP),
    )
