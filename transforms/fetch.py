"""Download archive files with their ``.CHECKSUM``, verify them, and land them atomically.

``<warehouse>/raw/<exchange>/<archive-relative path>`` mirrors the archive verbatim. A landed
file is re-used while the published checksum still matches it and fetched again when the
archive re-publishes it (Binance does regenerate files). A 404 means "not published"; it is an
answer, not an error. Transient failures (5xx, 429, timeouts, resets) are retried with
exponential backoff and full jitter (:mod:`transforms.transport`). Every other problem raises
:class:`FetchError` naming the URL, and nothing partial is ever visible under ``raw/``.

Each file is read once: the bytes verified against the CHECKSUM travel with the outcome
(:attr:`Landed.body`) and are what staging parses. A ``file://`` mirror on the warehouse's
filesystem is landed as hard links to its files (copied where a link cannot be made). Nothing
here writes a file in place (every write replaces the file), so the warehouse never changes the
mirror; the mirror should be updated the same way (``rsync`` replaces files by default, not with
``--inplace``): a file rewritten in place changes its landed link too, which is still checked
against its CHECKSUM before every use but is no longer a separate copy to fall back on.
"""

import hashlib
import io
import os
import re
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Literal, TypeVar

import httpx

from transforms import storage, transport
from transforms.errors import FetchError
from transforms.settings import Limits, Settings

CHECKSUM_SUFFIX = ".CHECKSUM"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_SAFE_RELPATH = re.compile(r"[A-Za-z0-9_\-]+(?:/[A-Za-z0-9_\-.]+)*")


@dataclass(frozen=True)
class Landed:
    """A verified archive file under ``raw/``.

    ``origin`` says how it got there: ``downloaded`` now, ``reused`` because the published
    checksum still matches the landed copy, or ``raw_only`` because the archive no longer
    publishes it and the landed copy is all that is left (UM liquidation snapshots, for one).
    """

    relpath: str
    path: Path
    sha256: str
    origin: Literal["downloaded", "reused", "raw_only", "landed_copy"]
    problem: str | None = None
    """Why the landed copy stands in (``landed_copy``): the archive's failure."""
    body: bytes | None = field(default=None, repr=False, compare=False)
    """The file's bytes as read and verified against ``sha256`` while landing it, so that it is
    parsed without reading it again; None when only ``path`` is known."""


@dataclass(frozen=True)
class NotPublished:
    """The archive answered 404: the file does not exist (yet, or any more)."""

    relpath: str
    url: str


FetchOutcome = Landed | NotPublished
T = TypeVar("T")


@dataclass(frozen=True)
class LocalFile:
    """A local file as read: its bytes and its ``fstat`` at the time."""

    path: Path
    body: bytes
    stat: os.stat_result


class TooLargeError(Exception):
    """A local file is larger than the cap it was read with."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


def read_local(path: Path, max_bytes: int | None = None) -> LocalFile | None:
    """A local mirror's file's bytes and ``fstat``, from one open; None when it does not exist.
    (The mirror is a source, not the warehouse: landed copies are read through
    :mod:`transforms.storage`.)

    Raises :class:`TooLargeError` when the file is larger than ``max_bytes``.
    """
    try:
        handle = path.open("rb", buffering=0)
    except FileNotFoundError:
        return None
    with handle:
        info = os.fstat(handle.fileno())
        if max_bytes is not None and info.st_size > max_bytes:
            raise TooLargeError(info.st_size)
        body = handle.readall()
    return LocalFile(path, body, info)


def parse_checksum(text: str, expected_name: str, url: str) -> str:
    """The sha256 of a ``.CHECKSUM`` body (``<hex>  <name>``; the trailing newline varies)."""
    tokens = text.split()
    if not tokens or not _SHA256.fullmatch(tokens[0].lower()):
        raise FetchError(
            url, f"malformed CHECKSUM (expected '<sha256>  <name>', got {text[:80]!r})"
        )
    if len(tokens) > 1 and tokens[1] != expected_name:
        raise FetchError(url, f"CHECKSUM names {tokens[1]!r}, expected {expected_name!r}")
    return tokens[0].lower()


def check_zip(body: bytes, url: str, member: str, max_uncompressed_bytes: int) -> None:
    """Reject anything that is not a zip holding exactly ``member`` within the size cap."""
    if not body.startswith(b"PK\x03\x04"):
        head = body[:64].lstrip().lower()
        if head.startswith((b"<!doctype html", b"<html", b"<?xml", b"<")):
            raise FetchError(url, "got an HTML/XML page instead of a zip")
        raise FetchError(url, f"not a zip file (starts with {body[:8]!r})")
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            names = archive.namelist()
            if names != [member]:
                raise FetchError(url, f"zip holds {names}, expected exactly [{member!r}]")
            size = archive.getinfo(member).file_size
    except zipfile.BadZipFile as exc:
        raise FetchError(url, f"truncated or corrupt zip ({exc})") from exc
    if size > max_uncompressed_bytes:
        raise FetchError(
            url, f"decompressed size {size} bytes exceeds the cap of {max_uncompressed_bytes}"
        )


def csv_member_name(relpath: str) -> str:
    """Binance zips hold exactly one CSV named like the zip: ``X.zip`` → ``X.csv``."""
    return PurePosixPath(relpath).with_suffix(".csv").name


def side_by_side(relpaths: Iterable[str], work: Callable[[str], T], workers: int) -> dict[str, T]:
    """``work`` on each distinct path, ``workers`` at a time, in the paths' order."""
    unique = list(dict.fromkeys(relpaths))
    if len(unique) <= 1 or workers <= 1:
        return {relpath: work(relpath) for relpath in unique}
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        return dict(zip(unique, pool.map(work, unique), strict=True))
    finally:
        # Stopped (Ctrl-C, a failure), wait for the paths in hand, not for the rest of the list.
        pool.shutdown(cancel_futures=True)


def fetch_each(
    fetch: Callable[[str], FetchOutcome],
    relpaths: Iterable[str],
    handle: Callable[[str, FetchOutcome | FetchError], T],
    workers: int,
    location: Callable[[str], str],
) -> dict[str, T]:
    """Fetch each path and pass its outcome to ``handle`` in the same worker.

    One file's failure, even an unforeseen one, never stops the others: it becomes that file's
    :class:`FetchError`, named by ``location``.
    """

    def attempt(relpath: str) -> T:
        try:
            outcome: FetchOutcome | FetchError = fetch(relpath)
        except FetchError as exc:
            outcome = exc
        except Exception as exc:  # one file's surprise must not end the other fetches
            outcome = FetchError(location(relpath), f"{type(exc).__name__}: {exc}")
        return handle(relpath, outcome)

    return side_by_side(relpaths, attempt, workers)


class ArchiveClient:
    """Fetches files of one archive (``https://``, ``http://`` or ``file://``) into ``raw/``."""

    def __init__(
        self,
        base_url: str,
        raw_root: Path,
        limits: Limits | None = None,
        temp_dir: Path | None = None,
    ) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.raw_root = raw_root
        self.limits = limits or Limits()
        self.temp_dir = temp_dir
        """Where files are written before they are renamed into ``raw/`` (default: beside)."""
        self._http: httpx.Client | None = None
        if self.base_url.startswith(("http://", "https://")):
            # Content-Length must describe the bytes we verify, so no transfer compression.
            self._http = transport.http_client(self.limits, verbatim=True)

    def __enter__(self) -> "ArchiveClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._http is not None:
            self._http.close()

    def url(self, relpath: str) -> str:
        return urllib.parse.urljoin(self.base_url, relpath)

    def landed_path(self, relpath: str) -> Path:
        if not _SAFE_RELPATH.fullmatch(relpath) or ".." in relpath.split("/"):
            raise FetchError(relpath, "refusing an archive path outside the raw tree")
        return self.raw_root / relpath

    def fetch(self, relpath: str) -> FetchOutcome:
        """Land ``relpath`` (or re-use the landed copy) and return where it is.

        When the archive fails for good (down, or serving a corrupt file) but a verified copy
        was landed before, that copy is used and the failure is reported with it: an outage
        must never empty a partition that was already good.
        """
        target = self.landed_path(relpath)
        try:
            return self._fetch(relpath, target)
        except FetchError as exc:
            landed = self._landed_copy(relpath, target)
            if landed is None:
                raise
            return replace(landed, origin="landed_copy", problem=str(exc))
        except OSError as exc:
            raise FetchError(self.url(relpath), f"{type(exc).__name__}: {exc}") from exc

    def _landed_copy(self, relpath: str, target: Path) -> Landed | None:
        """The previously landed file, if it is still the one its CHECKSUM vouches for."""
        checksum_path = target.with_name(target.name + CHECKSUM_SUFFIX)
        landed = storage.read_bytes_if_exists(target)
        checksum = storage.read_bytes_if_exists(checksum_path) if landed is not None else None
        if landed is None or checksum is None:
            return None
        expected = parse_checksum(checksum.decode(), target.name, str(checksum_path))
        actual = hashlib.sha256(landed).hexdigest()
        if actual != expected:
            raise FetchError(str(target), "landed file no longer matches its CHECKSUM")
        return Landed(relpath, target, actual, "raw_only", body=landed)

    def _fetch(self, relpath: str, target: Path) -> FetchOutcome:
        zip_url = self.url(relpath)
        checksum_path = target.with_name(target.name + CHECKSUM_SUFFIX)
        checksum = self._read(zip_url + CHECKSUM_SUFFIX, max_bytes=4096)
        if checksum is None:
            landed = self._landed_copy(relpath, target)
            return landed if landed is not None else NotPublished(relpath, zip_url)
        checksum_body = checksum[0]
        expected = parse_checksum(checksum_body.decode("ascii", "replace"), target.name, zip_url)
        # One read of the landed file both verifies it and is what gets parsed.
        previous = storage.read_bytes_if_exists(target)
        if previous is not None and hashlib.sha256(previous).hexdigest() == expected:
            if storage.read_bytes_if_exists(checksum_path) != checksum_body:
                self._land(checksum_path, *checksum)
            return Landed(relpath, target, expected, "reused", body=previous)
        fetched = self._read(zip_url, max_bytes=self.limits.max_download_bytes)
        if fetched is None:
            raise FetchError(zip_url, "CHECKSUM is published but the file itself is 404")
        body = fetched[0]
        check_zip(body, zip_url, csv_member_name(relpath), self.limits.max_uncompressed_bytes)
        actual = hashlib.sha256(body).hexdigest()
        if actual != expected:
            raise FetchError(zip_url, f"checksum mismatch: CHECKSUM says {expected}, got {actual}")
        # Renamed into place, not fsynced: a landed file is checked against its CHECKSUM before
        # every use, so one torn by a power cut is simply fetched again.
        self._land(target, *fetched)
        self._land(checksum_path, *checksum)
        return Landed(relpath, target, actual, "downloaded", body=body)

    def _read(self, url: str, max_bytes: int) -> tuple[bytes, LocalFile | None] | None:
        """:meth:`_get`, with the local file the bytes were read from (``file://``)."""
        if self._http is not None:
            body = self._get(url, max_bytes)
            return None if body is None else (body, None)
        local = self._read_local_url(url, max_bytes)
        return None if local is None else (local.body, local)

    def _land(self, target: Path, body: bytes, source: LocalFile | None) -> None:
        """Put ``body`` at ``target`` atomically.

        A local mirror's file is hard-linked while it is still the file ``body`` was read from
        (and on the same filesystem), and written otherwise: the landed bytes are the ones
        read and verified either way, and the mirror's file is never written through the link
        (files under ``raw/`` are replaced, never rewritten in place).
        """
        if source is None or not storage.link(source.path, target, source.stat, self.temp_dir):
            storage.write_bytes(target, body, self.temp_dir)

    def fetch_many(self, relpaths: Iterable[str]) -> dict[str, FetchOutcome | FetchError]:
        """Fetch many files with bounded concurrency; one failure never stops the others."""
        return self.map_fetched(relpaths, lambda _, outcome: outcome)

    def map_fetched(
        self,
        relpaths: Iterable[str],
        handle: Callable[[str, FetchOutcome | FetchError], T],
    ) -> dict[str, T]:
        """Fetch each file and pass its outcome to ``handle`` in the same worker.

        Parsing a file right after landing it keeps both cores busy; concurrency is bounded by
        ``Limits.concurrency`` (and by the core count for a local ``file://`` mirror, where the
        work is all CPU).
        """

        return fetch_each(self.fetch, relpaths, handle, self._workers(), self.url)

    def published_checksum(self, relpath: str) -> str | None:
        """The sha256 the archive's ``.CHECKSUM`` publishes for ``relpath`` now; None on 404.

        Only the small CHECKSUM is read: this says whether a file has appeared or changed
        without downloading it. Raises :class:`FetchError` when the archive does not answer.
        """
        target = self.landed_path(relpath)
        body = self._get(self.url(relpath) + CHECKSUM_SUFFIX, max_bytes=4096)
        if body is None:
            return None
        return parse_checksum(body.decode("ascii", "replace"), target.name, self.url(relpath))

    def published_checksums(self, relpaths: Iterable[str]) -> dict[str, str | FetchError | None]:
        """:meth:`published_checksum` of many files, with the fetches' bounded concurrency."""

        def probe(relpath: str) -> str | FetchError | None:
            try:
                return self.published_checksum(relpath)
            except FetchError as exc:
                return exc
            except OSError as exc:
                return FetchError(self.url(relpath), f"{type(exc).__name__}: {exc}")

        return self._map(relpaths, probe)

    def _map(self, relpaths: Iterable[str], work: Callable[[str], T]) -> dict[str, T]:
        return side_by_side(relpaths, work, self._workers())

    def _workers(self) -> int:
        workers = self.limits.concurrency
        if self._http is None:
            workers = min(workers, os.cpu_count() or 1)
        return workers

    def _get(self, url: str, max_bytes: int) -> bytes | None:
        """GET ``url``; ``None`` on 404; retries transient failures, then raises FetchError."""
        if self._http is None:
            local = self._read_local_url(url, max_bytes)
            return None if local is None else local.body
        return transport.with_retries(self.limits, url, lambda: self._http_get_once(url, max_bytes))

    def _http_get_once(self, url: str, max_bytes: int) -> bytes | None:
        assert self._http is not None
        with transport.http_errors(url), self._http.stream("GET", url) as response:
            if response.status_code == 404:
                return None
            transport.raise_if_transient(response)
            if response.status_code != 200:
                raise FetchError(url, f"unexpected HTTP {response.status_code}")
            declared = int(response.headers.get("content-length") or 0)
            if declared > max_bytes:
                raise FetchError(url, f"size {declared} bytes exceeds the cap of {max_bytes}")
            chunks: list[bytes] = []
            received = 0
            for chunk in response.iter_bytes():
                received += len(chunk)
                if received > max_bytes:
                    raise FetchError(url, f"body exceeds the cap of {max_bytes} bytes")
                chunks.append(chunk)
            downloaded = response.num_bytes_downloaded
        if declared and downloaded != declared:
            raise transport.TransientError(f"short body: {downloaded} of {declared} bytes")
        return b"".join(chunks)

    @staticmethod
    def _read_local_url(url: str, max_bytes: int) -> LocalFile | None:
        """The file a ``file://`` URL names, read whole; None when there is none (a 404)."""
        path = Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path))
        try:
            return read_local(path, max_bytes)
        except TooLargeError as exc:
            raise FetchError(url, f"size {exc.size} bytes exceeds the cap of {max_bytes}") from exc


def published_checksums(
    settings: Settings, files: Iterable[tuple[str, str]]
) -> dict[str, str | FetchError | None]:
    """The sha256 the archive publishes now for each (exchange, archive path); None for 404."""
    by_exchange: dict[str, list[str]] = {}
    for exchange, relpath in files:
        by_exchange.setdefault(exchange, []).append(relpath)
    published: dict[str, str | FetchError | None] = {}
    for exchange, relpaths in by_exchange.items():
        raw_root = settings.raw_root / exchange
        with ArchiveClient(settings.binance_url, raw_root, settings.limits) as client:
            published.update(client.published_checksums(relpaths))
    return published
