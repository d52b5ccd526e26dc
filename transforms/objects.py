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
- The buckets are requester-pays: credentials come from the usual AWS environment variables,
  profile or config files. Without any, every object fails with one clear error naming what to
  set, and the rest of the run goes on. The instance-metadata and container credential
  providers are switched off, so a machine outside AWS never waits on them.
"""

import hashlib
import json
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final

from transforms.errors import FetchError
from transforms.fetch import ArchiveClient, FetchOutcome, Landed, NotPublished, sha256_of
from transforms.publish import write_bytes_atomically, write_json_atomically
from transforms.settings import Limits

S3: Final = "s3://"
HOURS: Final = range(24)
HOURS_FILE: Final = "hours.json"
NO_CREDENTIALS: Final = (
    "Hyperliquid's archive is a requester-pays S3 bucket and no AWS credentials were found: "
    "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), or point "
    "TREADMILL_HYPERLIQUID_URL at a mirror (file:// or http://)"
)


class ObjectStoreClient(ArchiveClient):
    """Lands objects (or a day of hourly objects) of an S3 store or its mirror into ``raw/``."""

    def __init__(
        self,
        base_url: str,
        raw_root: Path,
        limits: Limits | None = None,
        temp_dir: Path | None = None,
        hour_key: Callable[[date, int], str] | None = None,
    ) -> None:
        self.hour_key = hour_key
        """The object of each hour of a day, for datasets of hourly files."""
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
            if relpath.endswith(".lz4"):
                return self._fetch_object(relpath)
            return self._fetch_hours(relpath)
        except OSError as exc:
            raise FetchError(self.url(relpath), f"{type(exc).__name__}: {exc}") from exc

    def _fetch_object(self, relpath: str) -> FetchOutcome:
        target = self.landed_path(relpath)
        if target.exists():
            return Landed(relpath, target, sha256_of(target), "reused")
        body = self._object(relpath)
        if body is None:
            return NotPublished(relpath, self.url(relpath))
        write_bytes_atomically(target, body, self.temp_dir)
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
        write_json_atomically(
            path / HOURS_FILE, {"hours": landed, "missing": missing}, self.temp_dir
        )
        return Landed(folder, path, _hours_digest(landed), "downloaded" if downloaded else "reused")

    def _object(self, relpath: str) -> bytes | None:
        """The object's body; None when the store has no such object."""
        if self._s3 is None and self.base_url != S3:
            return self._get(self.url(relpath), self.limits.max_download_bytes)
        if self._s3_problem is not None:
            raise FetchError(f"{S3}{relpath}", self._s3_problem)
        bucket, _, key = relpath.partition("/")
        return _s3_get(self._s3, bucket, key, self.limits.max_download_bytes)


def _hours_digest(landed: dict[str, dict[str, str]]) -> str:
    lines = "".join(f"{item['path']}:{item['sha256']}\n" for item in landed.values())
    return hashlib.sha256(lines.encode()).hexdigest()


def landed_object_digest(raw_root: Path, relpath: str) -> str | FetchError:
    """The sha256 staging gave a landed object (or complete day of hours), without a request,
    for resume; a :class:`FetchError` when only fetching can tell (not landed, or hours the
    archive had not uploaded yet)."""
    path = raw_root / relpath
    if relpath.endswith(".lz4"):
        return sha256_of(path) if path.exists() else FetchError(relpath, "not landed yet")
    if not (path / HOURS_FILE).exists():
        return FetchError(relpath, "not landed yet")
    hours = json.loads((path / HOURS_FILE).read_text())
    if hours["missing"]:
        return FetchError(relpath, f"hours {hours['missing']} were not uploaded yet")
    return _hours_digest(hours["hours"])


def missing_hours(folder: Path) -> list[int]:
    """The hours of a landed day of hourly objects that the store did not have."""
    hours: list[int] = json.loads((folder / HOURS_FILE).read_text())["missing"]
    return hours


def landed_hours(folder: Path, raw_root: Path) -> list[Path]:
    """The hourly objects of a landed day (each at its key under ``raw_root``), in hour order."""
    found: dict[str, dict[str, str]] = json.loads((folder / HOURS_FILE).read_text())["hours"]
    return [raw_root / found[hour]["path"] for hour in sorted(found, key=int)]


def _s3_client(limits: Limits) -> tuple[Any, str | None]:
    """A boto3 S3 client that never asks instance metadata; or the reason there is none."""
    import boto3
    import botocore.config
    import botocore.session

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
    import botocore.exceptions

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
