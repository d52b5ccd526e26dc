"""The object-store backend against a real S3 server (SeaweedFS on 127.0.0.1), through the
storage seam's own functions: what a caller sees must be what it sees on a local folder."""

import hashlib
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.fs
import pyarrow.parquet as pq
import pytest

from tests.s3_server import S3Server
from transforms import storage
from transforms.errors import ConfigError
from transforms.object_store import (
    ObjectStore,
    WriteConflictError,
    bucket_root,
    url_of,
    warehouse_path,
)

DAY = date(2024, 3, 1)


def store_of(server: S3Server, **overrides: str) -> ObjectStore:
    return ObjectStore.from_environment(
        overrides.pop("bucket", server.bucket), {**server.environment(), **overrides}
    )


@pytest.fixture
def backend(s3_server: S3Server) -> Iterator[ObjectStore]:
    """The test bucket mounted in the storage seam, as one writer sees it."""
    store = store_of(s3_server)
    storage.mount(store.root, store)
    yield store
    storage.unmount(store.root)
    store.close()


@pytest.fixture
def warehouse(s3_server: S3Server, backend: ObjectStore) -> Path:
    """A fresh warehouse root in the bucket: ``s3://warehouse/<random>``."""
    return warehouse_path(f"s3://{s3_server.bucket}/test-{uuid.uuid4().hex[:12]}")


def keys_under(server: S3Server, warehouse: Path) -> list[str]:
    """What the bucket holds under ``warehouse``, seen by another client (boto3)."""
    prefix = url_of(warehouse).removeprefix(f"s3://{server.bucket}/") + "/"
    listed = server.client().list_objects_v2(Bucket=server.bucket, Prefix=prefix)
    return sorted(item["Key"].removeprefix(prefix) for item in listed.get("Contents", []))


def sample_table() -> pa.Table:
    return pa.table(
        {
            "exchange": ["binance_um", "binance_um"],
            "symbol": ["BTCUSDT", "BTCUSDT"],
            "ts": pa.array(
                [datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 1, 0, 5, tzinfo=UTC)],
                pa.timestamp("ms", tz="UTC"),
            ),
            "oi_base": [81_000.5, 81_010.25],
        }
    )


def test_a_warehouse_url_is_a_path_under_the_reserved_root() -> None:
    path = warehouse_path("s3://bucket/team/prod/")
    assert path == Path("/s3:/bucket/team/prod")
    assert url_of(path / "lake" / "fct_x") == "s3://bucket/team/prod/lake/fct_x"
    assert path.resolve() == path
    with pytest.raises(ConfigError, match="not an object-store URL"):
        warehouse_path("s3://")


def test_files_round_trip_through_the_seam(s3_server: S3Server, warehouse: Path) -> None:
    manifest = warehouse / "manifests" / "binance_um" / "2024-03-01.json"
    storage.write_json(manifest, {"rows": 2, "day": DAY})
    storage.write_bytes(warehouse / "raw" / "a.zip", b"zip bytes")
    storage.write_bytes(warehouse / "raw" / "sub" / "b.zip", b"more")

    assert storage.read_json(manifest) == {"day": "2024-03-01", "rows": 2}
    assert storage.read_bytes(warehouse / "raw" / "a.zip") == b"zip bytes"
    assert storage.read_json_if_exists(warehouse / "manifests" / "none.json") is None
    with pytest.raises(FileNotFoundError):
        storage.read_bytes(warehouse / "raw" / "none.zip")
    assert storage.exists(warehouse / "raw")
    assert not storage.is_file(warehouse / "raw")
    assert storage.is_file(warehouse / "raw" / "a.zip")
    assert storage.size_of(warehouse / "raw" / "a.zip") == len(b"zip bytes")
    assert storage.listing(warehouse / "raw") == [
        warehouse / "raw" / "a.zip",
        warehouse / "raw" / "sub",
    ]
    assert storage.listing(warehouse / "raw", "*.zip") == [warehouse / "raw" / "a.zip"]
    assert storage.listing(warehouse / "nothing") == []
    assert storage.names_in(warehouse) == {"manifests", "raw"}
    assert (
        storage.uri(manifest)
        == f"s3://{s3_server.bucket}/{manifest.relative_to(bucket_root(s3_server.bucket)).as_posix()}"
    )

    storage.delete(warehouse / "raw" / "a.zip")
    storage.delete(warehouse / "raw" / "a.zip")
    assert not storage.exists(warehouse / "raw" / "a.zip")
    storage.delete_tree(warehouse / "raw")
    assert keys_under(s3_server, warehouse) == ["manifests/binance_um/2024-03-01.json"]


def test_local_paths_stay_on_the_local_folder(tmp_path: Path, warehouse: Path) -> None:
    assert storage.backend_for(tmp_path / "warehouse") is storage.LOCAL_FOLDER
    assert storage.backend_for(warehouse) is not storage.LOCAL_FOLDER


def test_a_published_partition_reads_back_with_pyarrow(
    s3_server: S3Server, warehouse: Path, tmp_path: Path
) -> None:
    table = sample_table()
    lake = warehouse / "lake"
    path = storage.publish_partition(table, lake, "fct_open_interest", DAY)

    assert storage.partition_days(lake, "fct_open_interest") == [DAY]
    assert storage.read_partition(lake, "fct_open_interest", DAY) == table
    # Nothing but the partition and its publication record is in the bucket: no temp object.
    assert keys_under(s3_server, warehouse) == [
        "lake/fct_open_interest/date=2024-03-01/data.parquet",
        "state/published/fct_open_interest/date=2024-03-01.json",
    ]
    # Another reader of the store sees the same table, in the same bytes a local lake gets.
    s3 = pyarrow.fs.S3FileSystem(
        access_key=s3_server.access_key,
        secret_key=s3_server.secret_key,
        endpoint_override=s3_server.endpoint,
        region=s3_server.region,
        force_virtual_addressing=False,
    )
    assert pq.read_table(storage.uri(path).removeprefix("s3://"), filesystem=s3) == table
    local = storage.publish_partition(table, tmp_path / "lake", "fct_open_interest", DAY)
    remote_sha256 = hashlib.sha256(storage.read_bytes(path)).hexdigest()
    assert remote_sha256 == storage.sha256_of(local) == storage.sha256_of(path)
    record = storage.read_json(storage.publication_record_path(lake, "fct_open_interest", DAY))
    assert record["sha256"] == remote_sha256

    assert storage.listing(lake, "*/date=*/data.parquet") == [path]
    assert storage.local_path(path).read_bytes() == storage.read_bytes(path)


def test_a_landed_unit_is_read_whole_from_local_disk(warehouse: Path) -> None:
    unit = warehouse / "raw" / "hyperliquid" / "hourly" / "20240301"
    for hour in (0, 1):
        storage.write_bytes(unit / f"{hour}.lz4", f"hour {hour}".encode())
    storage.write_json(unit / "hours.json", {"missing": list(range(2, 24))})

    local = storage.local_path(unit)
    assert local.is_dir()
    assert not str(local).startswith("/s3:")
    assert sorted(p.name for p in local.iterdir()) == ["0.lz4", "1.lz4", "hours.json"]
    assert (local / "1.lz4").read_bytes() == b"hour 1"


def test_a_raw_file_is_write_once(s3_server: S3Server, warehouse: Path) -> None:
    raw = warehouse / "raw" / "binance_um" / "day.zip"
    assert not storage.exists(raw)
    other_writer = store_of(s3_server)
    try:
        other_writer.write_bytes(raw, b"the other writer's file", None)
    finally:
        other_writer.close()

    with pytest.raises(WriteConflictError) as refused:
        storage.write_bytes(raw, b"this run's file")
    assert f"s3://{s3_server.bucket}/" in str(refused.value)
    assert "day.zip was created by another writer" in str(refused.value)
    assert "412" in str(refused.value)
    assert storage.read_bytes(raw) == b"the other writer's file"


def test_replacing_with_a_stale_etag_fails_naming_the_partition(
    s3_server: S3Server, warehouse: Path
) -> None:
    lake = warehouse / "lake"
    storage.publish_partition(sample_table(), lake, "fct_funding", DAY)
    assert storage.partition_exists(lake, "fct_funding", DAY)
    other_writer = store_of(s3_server)
    theirs = sample_table().slice(0, 1)
    try:
        other_writer.publish_partition(theirs, lake, "fct_funding", DAY)
    finally:
        other_writer.close()

    with pytest.raises(WriteConflictError, match=r"HTTP 412 Precondition Failed") as lost:
        storage.publish_partition(sample_table(), lake, "fct_funding", DAY)
    assert "fct_funding/date=2024-03-01/data.parquet was replaced by another writer" in str(
        lost.value
    )
    # The partition is the winner's whole file, and this writer can go on once it has looked.
    assert storage.read_partition(lake, "fct_funding", DAY) == theirs
    storage.publish_partition(sample_table(), lake, "fct_funding", DAY)
    assert storage.read_partition(lake, "fct_funding", DAY) == sample_table()


def test_a_large_file_goes_up_in_parts(s3_server: S3Server, warehouse: Path) -> None:
    store = ObjectStore.from_environment(s3_server.bucket, s3_server.environment())
    store.multipart_threshold = 1 << 20
    content = bytes(range(256)) * (12 << 12)
    big = warehouse / "reports" / "big.bin"
    try:
        store.write_bytes(big, content, None)
        assert store.read_bytes(big) == content
        assert "-" in str(store._seen[store.key(big)])  # a multipart ETag: "<md5>-<parts>"
        stale = ObjectStore.from_environment(s3_server.bucket, s3_server.environment())
        stale.multipart_threshold = 1 << 20
        stale.read_bytes(big)
        store.write_bytes(big, content[::-1], None)
        with pytest.raises(WriteConflictError, match=r"big\.bin was replaced"):
            stale.write_bytes(big, content, None)
        stale.close()
        assert store.read_bytes(big) == content[::-1]
    finally:
        store.close()


def test_a_wrong_secret_is_refused_in_one_line(s3_server: S3Server) -> None:
    store = store_of(s3_server, AWS_SECRET_ACCESS_KEY="not-the-secret")
    try:
        with pytest.raises(ConfigError) as refused:
            store.check(store.root / "warehouse")
        with pytest.raises(ConfigError):
            store.read_bytes(store.root / "warehouse" / "manifest.json")
    finally:
        store.close()
    message = str(refused.value)
    assert "\n" not in message
    assert "SignatureDoesNotMatch" in message
    assert "AWS_SECRET_ACCESS_KEY" in message
    assert s3_server.secret_key not in message
    assert "not-the-secret" not in message


def test_a_missing_bucket_is_named(s3_server: S3Server) -> None:
    store = store_of(s3_server, bucket="no-such-bucket")
    try:
        for attempt in (
            lambda: store.check(store.root),
            lambda: store.read_bytes(store.root / "lake" / "x.json"),
            lambda: store.exists(store.root / "lake"),
            lambda: store.write_bytes(store.root / "lake" / "x.json", b"{}", None),
        ):
            with pytest.raises(ConfigError, match="the bucket 'no-such-bucket' does not exist"):
                attempt()
    finally:
        store.close()
