"""Fetch objects of a store that publishes no checksums: Hyperliquid's requester-pays S3 buckets.

The base URL is ``s3://`` (the buckets themselves, through boto3 with ``RequestPayer=requester``)
or a mirror laid out as ``<base>/<bucket>/<key>``, served over ``http://`` or ``file://`` through
the archive client's code (:class:`transforms.fetch.ArchiveClient`: retries, size caps).

- An object is landed verbatim at ``raw/<exchange>/<bucket>/<key>``, atomically, and its sha256
  computed on landing (the store publishes none). Hyperliquid does not regenerate files, so a
  landed object is re-used; remove it to fetch it again.
- A day of hourly objects (fills: ``…/hourly/YYYYMMDD/{0..23}.lz4``) is fetched as one unit: the
  hours found land, the hours missing are listed in ``hours.json`` beside them and asked for
  again next time (the archive is uploaded late and sometimes incompletely); the unit's sha256
  is the digest of its hours' sha256s. A day with no hour at all is not published.
- A weekly report kept in files that grow or roll over (CFTC's year file and current week's
  file, :class:`WeeklyFiles`) is fetched per report day: the unit ``weeks/YYYYMMDD`` is the
  first of the day's files that holds it (``week.json`` names it); a landed file is fetched
  again once a release has come out since it landed, or when the day wanted is due and not in
  it, and never once it is closed. Each file is fetched at most once per client.
- The buckets are requester-pays: credentials come from the usual AWS environment variables,
  profile or config files. Without any, every object fails with one clear error naming what to
  set, and the rest of the run goes on. The instance-metadata and container credential
  providers are switched off, so a machine outside AWS never waits on them.
"""

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import boto3
import botocore.config
import botocore.exceptions
import botocore.session

from transforms import storage
from transforms.errors import FetchError, ParseError
from transforms.fetch import ArchiveClient, FetchOutcome, Landed, NotPublished
from transforms.landed import (
    HOURS_FILE,
    WEEK_FILE,
    hours_digest,
    hours_of,
    hours_record,
    week_record,
)
from transforms.settings import Limits

S3: Final = "s3://"
HOURS: Final = range(24)
FINAL_AFTER: Final = timedelta(days=7)
"""How long after its day a missing Hyperliquid object may still be uploaded."""
NO_CREDENTIALS: Final = (
    "Hyperliquid's archive is a requester-pays S3 bucket and no AWS credentials were found: "
    "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), or point "
    "TREADMILL_HYPERLIQUID_URL at a mirror (file:// or http://)"
)


@dataclass(frozen=True)
class WeeklyFiles:
    """A weekly report published in files that change: where a report day may be, and when a
    landed file is out of date (CFTC's Commitments of Traders, :mod:`transforms.sources.cftc`)."""

    files: Callable[[date], tuple[str, ...]]
    """The files that may hold a report day, in the order they are asked."""
    holds: Callable[[Path, str, date], bool]
    """Whether a landed file holds the report day; raises ParseError for a bad file."""
    next_release: Callable[[datetime], datetime]
    """The first scheduled release after an instant."""
    release_of: Callable[[date], datetime]
    """When the report of a day is due out."""
    closed_at: Callable[[str], datetime | None]
    """When a file stops changing for good; None for one that never does."""


class ObjectStoreClient(ArchiveClient):
    """Lands objects (or a day of hourly objects) of an S3 store or its mirror into ``raw/``."""

    def __init__(
        self,
        base_url: str,
        raw_root: Path,
        limits: Limits | None = None,
        temp_dir: Path | None = None,
        hour_key: Callable[[date, int], str] | None = None,
        weekly: WeeklyFiles | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.hour_key = hour_key
        """The object of each hour of a day, for datasets of hourly files."""
        self.weekly = weekly
        """For a weekly report in changing files: how to find a day and when to re-fetch."""
        self._now = now or (lambda: datetime.now(UTC))
        self._current: dict[str, Landed | None] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()
        self._s3: Any = None
        self._s3_problem: str | None = None
        if base_url.startswith(S3):
            super().__init__("file:///unused/", raw_root, limits, temp_dir)
            self.base_url = S3
            self._s3, self._s3_problem = _s3_client(self.limits)
        else:
            super().__init__(base_url, raw_root, limits, temp_dir)

    def url(self, relpath: str) -> str:
        return f"{S3}{relpath}" if self.base_url == S3 else super().url(relpath)

    def fetch(self, relpath: str) -> FetchOutcome:
        """Land an object, or a day of hourly objects when ``relpath`` is their folder."""
        try:
            if self.weekly is not None:
                return self._fetch_week(relpath, self.weekly)
            if relpath.endswith(".lz4"):
                return self._fetch_object(relpath)
            return self._fetch_hours(relpath)
        except OSError as exc:
            raise FetchError(self.url(relpath), f"{type(exc).__name__}: {exc}") from exc

    def _fetch_object(self, relpath: str) -> FetchOutcome:
        target = self.landed_path(relpath)
        if storage.exists(target):
            return Landed(relpath, target, storage.sha256_of(target), "reused")
        body = self._object(relpath)
        if body is None:
            return NotPublished(relpath, self.url(relpath))
        storage.write_bytes(target, body, self.temp_dir)
        return Landed(relpath, target, hashlib.sha256(body).hexdigest(), "downloaded")

    def _fetch_hours(self, folder: str) -> FetchOutcome:
        if self.hour_key is None:
            raise FetchError(folder, "not an object, and the dataset has no hourly objects")
        day = datetime.strptime(folder.rsplit("/", 1)[1], "%Y%m%d").date()
        landed: dict[str, dict[str, str]] = {}
        missing: list[int] = []
        downloaded = False
        for hour in HOURS:
            key = self.hour_key(day, hour)
            outcome = self._fetch_object(key)
            if isinstance(outcome, NotPublished):
                missing.append(hour)
                continue
            landed[str(hour)] = {"path": key, "sha256": outcome.sha256}
            downloaded |= outcome.origin == "downloaded"
        if not landed:
            return NotPublished(folder, self.url(folder))
        path = self.landed_path(folder)
        storage.write_json(path / HOURS_FILE, hours_record(landed, missing), self.temp_dir)
        return Landed(folder, path, hours_digest(landed), "downloaded" if downloaded else "reused")

    def _fetch_week(self, unit: str, weekly: WeeklyFiles) -> FetchOutcome:
        day = datetime.strptime(unit.rsplit("/", 1)[1], "%Y%m%d").date()
        for relpath in weekly.files(day):
            landed = self._current_copy(relpath, day, weekly)
            if landed is None:
                continue
            try:
                held = weekly.holds(storage.local_path(landed.path), relpath, day)
            except ParseError:
                held = True  # a bad file: parsing it names the file and quarantines the day
            if held:
                path = self.landed_path(unit)
                storage.write_json(
                    path / WEEK_FILE, week_record(relpath, landed.sha256), self.temp_dir
                )
                return replace(landed, relpath=unit, path=path)
        return NotPublished(unit, self.url(unit))

    def _current_copy(self, relpath: str, day: date, weekly: WeeklyFiles) -> Landed | None:
        """The landed copy of a changing file, fetched first when it is out of date; None when
        the store does not have it. Fetched at most once per client."""
        with self._locks_lock:
            lock = self._locks.setdefault(relpath, threading.Lock())
        with lock:
            if relpath in self._current:
                return self._current[relpath]
            target = self.landed_path(relpath)
            landed: Landed | None
            if storage.exists(target) and not self._out_of_date(relpath, target, day, weekly):
                landed = Landed(relpath, target, storage.sha256_of(target), "reused")
            else:
                problem: str | None = None
                try:
                    body = self._object(relpath)
                except FetchError as exc:
                    if not storage.exists(target):
                        raise
                    body, problem = None, str(exc)
                if body is not None:
                    storage.write_bytes(target, body, self.temp_dir)
                    landed = Landed(relpath, target, hashlib.sha256(body).hexdigest(), "downloaded")
                elif storage.exists(target):
                    # Gone from the store, or the store failed: the copy landed before stands.
                    landed = Landed(
                        relpath, target, storage.sha256_of(target), "landed_copy", problem=problem
                    )
                else:
                    landed = None
            self._current[relpath] = landed
            return landed

    def _out_of_date(self, relpath: str, target: Path, day: date, weekly: WeeklyFiles) -> bool:
        landed_at = storage.modified_at(target)
        closed = weekly.closed_at(relpath)
        if closed is not None and landed_at >= closed:
            return False
        now = self._now()
        if now >= weekly.next_release(landed_at):
            return True
        if now < weekly.release_of(day):
            return False
        # Due and not in the copy: a release that came late (a holiday week).
        try:
            return not weekly.holds(storage.local_path(target), relpath, day)
        except ParseError:
            return True

    def _object(self, relpath: str) -> bytes | None:
        """The object's body; None when the store has no such object."""
        if self._s3 is None and self.base_url != S3:
            return self._get(self.url(relpath), self.limits.max_download_bytes)
        if self._s3_problem is not None:
            raise FetchError(f"{S3}{relpath}", self._s3_problem)
        bucket, _, key = relpath.partition("/")
        return _s3_get(self._s3, bucket, key, self.limits.max_download_bytes)


def landed_object_digest(
    raw_root: Path, relpath: str, day: date, now: datetime
) -> str | FetchError | None:
    """The sha256 staging gave a landed object (or day of hours), without a request, for
    resume; a :class:`FetchError` when only fetching can tell (not landed, or hours the archive
    may still upload); None when the archive is taken not to have it.

    Hyperliquid uploads late, but not forever: :data:`FINAL_AFTER` after a day, what is still
    missing is taken as never coming, so a long backfill stops rebuilding from that day.
    """
    path = raw_root / relpath
    final = now >= datetime(day.year, day.month, day.day, tzinfo=UTC) + FINAL_AFTER
    if relpath.endswith(".lz4"):
        if storage.exists(path):
            return storage.sha256_of(path)
        return None if final else FetchError(relpath, "not landed yet")
    record = storage.read_json_if_exists(path / HOURS_FILE)
    if record is None:
        return None if final else FetchError(relpath, "not landed yet")
    landed, missing = hours_of(record)
    if missing and not final:
        return FetchError(relpath, f"hours {missing} may still be uploaded")
    return hours_digest(landed)


def _s3_client(limits: Limits) -> tuple[Any, str | None]:
    """A boto3 S3 client that never asks instance metadata; or the reason there is none."""
    session = botocore.session.get_session()
    resolver = session.get_component("credential_provider")
    for provider in ("iam-role", "container-role"):
        resolver.remove(provider)
    if session.get_credentials() is None:
        return None, NO_CREDENTIALS
    config = botocore.config.Config(
        retries={"max_attempts": limits.max_attempts, "mode": "standard"},
        connect_timeout=limits.timeout_seconds,
        read_timeout=limits.timeout_seconds,
    )
    return boto3.Session(botocore_session=session).client("s3", config=config), None


def _s3_get(client: Any, bucket: str, key: str, max_bytes: int) -> bytes | None:
    url = f"{S3}{bucket}/{key}"
    try:
        response = client.get_object(Bucket=bucket, Key=key, RequestPayer="requester")
    except client.exceptions.NoSuchKey:
        return None
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("404", "NoSuchKey"):
            return None
        transient = code in ("SlowDown", "InternalError", "ServiceUnavailable", "503", "500")
        raise FetchError(url, f"S3 {code}: {exc}", transient=transient) from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise FetchError(url, f"{type(exc).__name__}: {exc}", transient=True) from exc
    size = int(response.get("ContentLength") or 0)
    if size > max_bytes:
        raise FetchError(url, f"size {size} bytes exceeds the cap of {max_bytes}")
    body: bytes = response["Body"].read()
    return body
