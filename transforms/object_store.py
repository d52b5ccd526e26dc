"""The warehouse in an S3-compatible object store: a :class:`transforms.storage.Backend`.

**How a warehouse path names an object.** Every caller builds warehouse paths as
:class:`~pathlib.Path` arithmetic on the root (``warehouse / "lake" / table / "date=…"``), keeps
them in records, and hands them to :mod:`transforms.storage`. So that none of them changes, an
object-store warehouse is a ``Path`` too, under a reserved root that no local folder has:
``s3://bucket/prefix`` is the path ``/s3:/bucket/prefix`` (:func:`warehouse_path`), and the
object a path names is ``s3://bucket/<the rest>`` (:func:`url_of`). ``/``, ``.parent``,
``.name``, :func:`transforms.publish.partition_dir` and ``relative_to`` work unchanged;
``Path.resolve`` leaves such a path as it is (nothing exists there). Only the storage seam ever
turns one into a request: :func:`transforms.storage.mount` hands the paths under a bucket's
root to its :class:`ObjectStore`, and every other path stays on the local folder. A URL type
instead would have changed every caller that joins, compares or records a warehouse path.

**The same guarantees as on a local disk, without a rename.** A file is published as one PUT
of bytes built on local disk (a Parquet partition is written by the local backend's own writer
into a scratch folder first, so its bytes are those a local warehouse gets), and every PUT is
conditional:

- an object this backend has not seen is created with ``If-None-Match: *``: a raw file is
  write-once, and a writer that finds the key taken fails instead of overwriting;
- an object it has seen (read, listed, looked at or written by this process) is replaced with
  ``If-Match: <the ETag seen>``: two writers of one partition never silently overwrite each
  other; the one that lost gets HTTP 412 and :class:`WriteConflictError` names the object. A write
  of a key never seen looks at it first (one HEAD), so a blind replace of a manifest still
  fails rather than clobbers when another writer gets in between;
- a file larger than ``multipart_threshold`` goes up as a multipart upload, which S3 shows only
  once complete (obstore takes no precondition on a multipart upload, so there the ETag is
  checked by a HEAD just before the upload: a check, not an atomic guard; a day's partition is
  far below the threshold).

Listing a folder is one delimiter listing (a pattern across folders, ``date=*/data.parquet``,
is one flat listing under the folder). Scratch work stays on local disk: :meth:`local_path`
downloads an object (or every object of a landed unit's folder) into a local scratch folder,
re-used while the object's ETag is unchanged. Files that grow in place (the recorder's open
hour) do not exist on an object store: :meth:`ObjectStore.open_stream` reads, never appends.

Endpoint, region and credentials come from the standard AWS variables (``AWS_ENDPOINT_URL``,
``AWS_REGION``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``),
addressing is path-style, and plain HTTP is allowed where the endpoint says ``http://``. Errors
name the object, bucket, endpoint or variable, never a credential.
"""

import fnmatch
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any, Final

import obstore
import pyarrow as pa
from obstore.exceptions import (
    AlreadyExistsError,
    BaseError,
    PermissionDeniedError,
    PreconditionError,
    UnauthenticatedError,
)
from obstore.store import S3Store

from transforms import storage
from transforms.errors import ConfigError, TreadmillError
from transforms.publish import PARTITION_FILE, partition_dir

SCHEME: Final = "s3://"
OBJECT_STORE_ROOT: Final = Path("/s3:")
"""The reserved root under which a path names an object: ``/s3:/<bucket>/<key>``."""
DEFAULT_REGION: Final = "us-east-1"
MULTIPART_THRESHOLD: Final = 256 << 20
"""Files above this size go up as a multipart upload; everything smaller is one PUT."""
PART_SIZE: Final = 16 << 20
CREDENTIAL_CODES: Final = ("SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied")
SEEN_ABSENT: Final = None


class ObjectStoreError(TreadmillError):
    """A request to the object store failed: names the object and what the server said."""


class WriteConflictError(ObjectStoreError):
    """A conditional write lost (HTTP 412): another writer created or replaced the object."""


def warehouse_path(url: str) -> Path:
    """The path that stands for ``s3://bucket/prefix`` (``/s3:/bucket/prefix``)."""
    if not url.startswith(SCHEME) or not url.removeprefix(SCHEME).strip("/"):
        raise ConfigError(f"not an object-store URL (s3://bucket/prefix): {url!r}")
    return OBJECT_STORE_ROOT.joinpath(*url.removeprefix(SCHEME).strip("/").split("/"))


def url_of(path: Path) -> str:
    """The ``s3://bucket/key`` URL of a path under :data:`OBJECT_STORE_ROOT`."""
    return SCHEME + path.relative_to(OBJECT_STORE_ROOT).as_posix()


def bucket_root(bucket: str) -> Path:
    """The path of a bucket's root: what :func:`transforms.storage.mount` mounts."""
    return OBJECT_STORE_ROOT / bucket


def store_from_environment(bucket: str, environ: Mapping[str, str] | None = None) -> S3Store:
    """An obstore S3 client of ``bucket`` configured by the standard AWS variables."""
    environ = os.environ if environ is None else environ
    endpoint = environ.get("AWS_ENDPOINT_URL")
    config: dict[str, Any] = {
        "region": environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION,
        "virtual_hosted_style_request": False,
    }
    if endpoint:
        config["endpoint"] = endpoint
    if access_key := environ.get("AWS_ACCESS_KEY_ID"):
        config["access_key_id"] = access_key
    if secret := environ.get("AWS_SECRET_ACCESS_KEY"):
        config["secret_access_key"] = secret
    if token := environ.get("AWS_SESSION_TOKEN"):
        config["session_token"] = token
    plain_http = bool(endpoint and endpoint.startswith("http://"))
    return S3Store(bucket, client_options={"allow_http": plain_http}, **config)


class ObjectStore:
    """One bucket of an S3-compatible store as a warehouse backend (see the module's doc)."""

    def __init__(
        self,
        bucket: str,
        store: S3Store,
        endpoint: str,
        multipart_threshold: int = MULTIPART_THRESHOLD,
    ) -> None:
        self.bucket = bucket
        self.root = bucket_root(bucket)
        self.endpoint = endpoint
        self.multipart_threshold = multipart_threshold
        self._store = store
        self._seen: dict[str, str | None] = {}
        self._local_copies: dict[str, str] = {}
        self._bucket_seen = False
        self._scratch_folder = tempfile.TemporaryDirectory(prefix="treadmill-object-store-")
        self.scratch = Path(self._scratch_folder.name)

    @classmethod
    def from_environment(
        cls, bucket: str, environ: Mapping[str, str] | None = None
    ) -> "ObjectStore":
        """The bucket reached through the standard AWS variables."""
        environ = os.environ if environ is None else environ
        endpoint = environ.get("AWS_ENDPOINT_URL") or "https://s3.amazonaws.com"
        return cls(bucket, store_from_environment(bucket, environ), endpoint)

    def close(self) -> None:
        """Remove the local copies of objects (the scratch folder)."""
        self._scratch_folder.cleanup()

    def check(self, path: Path) -> None:
        """Fail in one line, before any work, when the bucket is missing, the credentials are
        refused or the endpoint does not answer (one listing of ``path``'s folder)."""
        self._list_folder(self.key(path))

    def key(self, path: Path) -> str:
        """The object key ``path`` names in this bucket."""
        try:
            relative = path.relative_to(self.root).as_posix()
        except ValueError:
            raise ObjectStoreError(f"{path} is not in the bucket {self.bucket!r}") from None
        return "" if relative == "." else relative

    def path(self, key: str) -> Path:
        return self.root.joinpath(*PurePosixPath(key).parts)

    def exists(self, path: Path) -> bool:
        key = self.key(path)
        return self._head(key) is not None or bool(self._folder_entries(key))

    def is_file(self, path: Path) -> bool:
        return self._head(self.key(path)) is not None

    def read_bytes(self, path: Path) -> bytes | None:
        key = self.key(path)
        try:
            result = obstore.get(self._store, key)
            content = bytes(result.bytes())
        except FileNotFoundError as error:
            self._raise_if_bucket_missing(error)
            self._seen[key] = SEEN_ABSENT
            return None
        except BaseError as error:
            raise self._failure(error, "reading", key) from None
        self._seen[key] = result.meta["e_tag"]
        return content

    def read_table(
        self, path: Path, schema: pa.Schema | None, columns: list[str] | None
    ) -> pa.Table | None:
        key = self.key(path)
        meta = self._head(key)
        if meta is None:
            return None
        # Read by the local backend from the local copy: the same casts as a local warehouse.
        self._download(key, meta["e_tag"])
        return storage.read_table(self._scratch_copy(key), schema, columns)

    def write_bytes(self, path: Path, content: bytes, temp_root: Path | None) -> Path:
        self._put(self.key(path), content, len(content))
        return path

    def write_table(self, table: pa.Table, path: Path, temp_root: Path | None) -> Path:
        key = self.key(path)
        local = self._scratch_copy(key)
        # The local backend's writer: the same Parquet bytes as a local warehouse gets.
        storage.write_table(table, local)
        try:
            etag = self._put(key, local, storage.size_of(local))
        except BaseException:
            storage.delete(local)
            raise
        self._local_copies[key] = etag
        return path

    def publish_partition(
        self, table: pa.Table, lake_root: Path, table_name: str, day: date
    ) -> Path:
        folder = partition_dir(lake_root, table_name, day)
        target = self.write_table(table, folder / PARTITION_FILE, None)
        stale = [p for p in self.list(folder, "*.parquet") if p.name != PARTITION_FILE]
        self._delete_keys([self.key(p) for p in stale])
        return target

    def link(
        self, source: Path, path: Path, same_as: os.stat_result, temp_root: Path | None
    ) -> bool:
        # An object store has no links: the caller uploads the bytes instead.
        return False

    def rename(self, source: Path, target: Path) -> None:
        source_key, target_key = self.key(source), self.key(target)
        content = self.read_bytes(source)
        if content is None:
            raise FileNotFoundError(f"no such object to rename: {url_of(source)}")
        self._put(target_key, content, len(content))
        self._delete_keys([source_key])

    def put_file(self, local: Path, path: Path) -> None:
        self._put(self.key(path), local, storage.size_of(local))
        storage.delete(local)

    def uri(self, path: Path) -> str:
        return url_of(path)

    def delete(self, path: Path) -> None:
        self._delete_keys([self.key(path)])

    def delete_tree(self, folder: Path) -> None:
        prefix = self.key(folder)
        self._delete_keys([prefix, *(meta["path"] for meta in self._all_under(prefix))])

    def open_stream(self, path: Path, mode: str, buffering: int) -> IO[Any]:
        if "r" not in mode or "+" in mode:
            raise ObjectStoreError(
                f"{url_of(path)}: an object store has no files that grow in place; "
                "write it on local disk and publish it whole"
            )
        return storage.open_stream(self.local_path(path), mode, buffering)

    def local_path(self, path: Path) -> Path:
        key = self.key(path)
        meta = self._head(key)
        if meta is not None:
            self._download(key, meta["e_tag"])
            return self._scratch_copy(key)
        unit = self._all_under(key)
        if not unit:
            raise FileNotFoundError(f"no such object in the warehouse: {url_of(path)}")
        for member in unit:
            self._download(member["path"], member["e_tag"])
        return self._scratch_copy(key)

    def modified_at(self, path: Path) -> datetime:
        return self._existing(path)["last_modified"]

    def free_bytes(self, path: Path) -> int | None:
        return None

    def size_of(self, path: Path) -> int:
        return int(self._existing(path)["size"])

    def _existing(self, path: Path) -> Any:
        meta = self._head(self.key(path))
        if meta is None:
            raise FileNotFoundError(f"no such object in the warehouse: {url_of(path)}")
        return meta

    def _head(self, key: str) -> Any:
        try:
            meta = obstore.head(self._store, key)
        except FileNotFoundError:
            # A HEAD's 404 has no body to tell a missing key from a missing bucket.
            if not self._bucket_seen:
                self.check(self.root)
            self._seen[key] = SEEN_ABSENT
            return None
        except BaseError as error:
            raise self._failure(error, "looking at", key) from None
        self._seen[key] = meta["e_tag"]
        return meta

    def _list_folder(self, prefix: str) -> Any:
        try:
            listed = obstore.list_with_delimiter(self._store, prefix or None)
        except BaseError as error:
            raise self._failure(error, "listing", prefix) from None
        self._bucket_seen = True
        for meta in listed["objects"]:
            self._seen[meta["path"]] = meta["e_tag"]
        return listed

    def _folder_entries(self, prefix: str) -> list[str]:
        listed = self._list_folder(prefix)
        return [
            *(folder.rstrip("/") for folder in listed["common_prefixes"]),
            *(meta["path"] for meta in listed["objects"]),
        ]

    def _all_under(self, prefix: str) -> list[Any]:
        try:
            found = [
                meta
                for chunk in obstore.list(self._store, prefix or None, chunk_size=1000)
                for meta in chunk
            ]
        except BaseError as error:
            raise self._failure(error, "listing", prefix) from None
        for meta in found:
            self._seen[meta["path"]] = meta["e_tag"]
        return found

    def _put(self, key: str, content: bytes | Path, size: int) -> str:
        """Upload ``content`` as ``key`` under the precondition of what was seen of it; the
        new ETag."""
        if key not in self._seen:
            self._head(key)
        seen = self._seen[key]
        mode: Any = "create" if seen is SEEN_ABSENT else {"e_tag": seen}
        try:
            if size > self.multipart_threshold:
                # obstore's multipart upload takes no precondition: check it just before.
                if self._head(key) is not None and self._seen[key] != seen:
                    raise self._conflict(key, seen)
                result = obstore.put(
                    self._store, key, content, use_multipart=True, chunk_size=PART_SIZE
                )
            else:
                result = obstore.put(self._store, key, content, mode=mode, use_multipart=False)
        except (AlreadyExistsError, PreconditionError):
            raise self._conflict(key, seen) from None
        except FileNotFoundError as error:
            self._raise_if_bucket_missing(error)
            raise self._failure(error, "writing", key) from None
        except BaseError as error:
            raise self._failure(error, "writing", key) from None
        etag = str(result["e_tag"])
        self._seen[key] = etag
        return etag

    def _conflict(self, key: str, seen: str | None) -> WriteConflictError:
        self._seen.pop(key, None)
        found = "was created" if seen is SEEN_ABSENT else "was replaced"
        return WriteConflictError(
            f"{SCHEME}{self.bucket}/{key} {found} by another writer since this run looked at it "
            "(HTTP 412 Precondition Failed): nothing was overwritten; run again to build it "
            "from what is there now"
        )

    def _delete_keys(self, keys: Iterable[str]) -> None:
        keys = [key for key in keys if key]
        if not keys:
            return
        try:
            obstore.delete(self._store, keys)
        except FileNotFoundError as error:
            self._raise_if_bucket_missing(error)
        except BaseError as error:
            raise self._failure(error, "deleting", keys[0]) from None
        for key in keys:
            self._seen[key] = SEEN_ABSENT
            self._local_copies.pop(key, None)

    def _scratch_copy(self, key: str) -> Path:
        return self.scratch.joinpath(*PurePosixPath(key).parts)

    def _download(self, key: str, etag: str) -> None:
        local = self._scratch_copy(key)
        if self._local_copies.get(key) == etag and storage.exists(local):
            return
        partial = local.with_name(f".{local.name}.download")
        try:
            with storage.open_stream(partial, "wb") as sink:
                result = obstore.get(self._store, key)
                for chunk in result.stream():
                    sink.write(chunk)
        except FileNotFoundError:
            storage.delete(partial)
            raise FileNotFoundError(
                f"no such object in the warehouse: {SCHEME}{self.bucket}/{key}"
            ) from None
        except BaseError as error:
            storage.delete(partial)
            raise self._failure(error, "downloading", key) from None
        storage.rename(partial, local)
        # What was downloaded is what the GET answered, even if the object changed since.
        self._seen[key] = self._local_copies[key] = str(result.meta["e_tag"])

    def _raise_if_bucket_missing(self, error: Exception) -> None:
        if "NoSuchBucket" in str(error):
            raise self._failure(error, "reaching", "") from None

    def _failure(self, error: Exception, doing: str, key: str) -> TreadmillError:
        """One line that says what failed and what to set, from obstore's long report."""
        text = str(error)
        where = f"{SCHEME}{self.bucket}/{key}"
        if "NoSuchBucket" in text:
            return ConfigError(
                f"the bucket {self.bucket!r} does not exist at {self.endpoint}: create it, or "
                "point TREADMILL_WAREHOUSE at an existing bucket"
            )
        code = next((c for c in CREDENTIAL_CODES if c in text), None)
        if code or isinstance(error, PermissionDeniedError | UnauthenticatedError):
            return ConfigError(
                f"{self.endpoint} refused the credentials for the bucket {self.bucket!r} "
                f"({code or 'access denied'}): check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            )
        if "error sending request" in text or "Connect" in text:
            return ConfigError(
                f"cannot reach the object store at {self.endpoint} while {doing} {where}: "
                "check AWS_ENDPOINT_URL and that the server is up"
            )
        summary = re.split(r": <\?xml|\n", text, maxsplit=1)[0]
        return ObjectStoreError(f"{doing} {where} failed: {summary}")

    # Last in the class: the method shadows the builtin in the annotations of the class body.
    def list(self, folder: Path, pattern: str) -> list[Path]:
        prefix = self.key(folder)
        if "/" not in pattern:
            return sorted(
                self.path(name)
                for name in self._folder_entries(prefix)
                if fnmatch.fnmatchcase(PurePosixPath(name).name, pattern)
            )
        wanted = PurePosixPath(pattern).parts
        found = set()
        for meta in self._all_under(prefix):
            parts = PurePosixPath(meta["path"].removeprefix(prefix).lstrip("/")).parts
            if len(parts) >= len(wanted) and all(
                fnmatch.fnmatchcase(part, glob) for part, glob in zip(parts, wanted, strict=False)
            ):
                found.add(self.path("/".join([prefix, *parts[: len(wanted)]]).lstrip("/")))
        return sorted(found)
