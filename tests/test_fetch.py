"""ArchiveClient against a real HTTP server on 127.0.0.1 (and ``file://``), with injected faults.

Every test serves a mirror tree from ``tmp_path``; nothing reaches the internet and no treadmill
code is mocked. Faults are queued per path on :class:`tests.archive_server.ArchiveServer`.
"""

import errno
import hashlib
import io
import os
import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from simulator.archive import checksum_line, csv_bytes, zip_bytes
from tests.archive_server import ArchiveServer, Fault
from tests.conftest import FAST_LIMITS, REAL_DUMPS, WriteFile
from transforms import storage
from transforms.errors import FetchError
from transforms.fetch import (
    CHECKSUM_SUFFIX,
    ArchiveClient,
    Landed,
    NotPublished,
    parse_checksum,
    read_local,
)
from transforms.publish import link_atomically, write_bytes_atomically

METRICS_DIR = "data/futures/um/daily/metrics/BTCUSDT"
METRICS_HEADER = [
    "create_time",
    "symbol",
    "sum_open_interest",
    "sum_open_interest_value",
    "count_toptrader_long_short_ratio",
    "sum_toptrader_long_short_ratio",
    "count_long_short_ratio",
    "sum_taker_long_short_vol_ratio",
]
REL = f"{METRICS_DIR}/BTCUSDT-metrics-2024-01-01.zip"
CHK = REL + CHECKSUM_SUFFIX


def metrics_rows(day: str, n: int = 12, oi: float = 74006.266) -> list[list[object]]:
    ratios = [1.25, 1.5, 1.75, 0.98]
    return [
        [f"{day} {h // 12:02d}:{h % 12 * 5:02d}:00", "BTCUSDT", oi + h, (oi + h) * 42000.5, *ratios]
        for h in range(n)
    ]


def rel_for(day: str) -> str:
    return f"{METRICS_DIR}/BTCUSDT-metrics-{day}.zip"


def files_under(root: Path) -> list[Path]:
    """Every file under ``root``, hidden temporaries included."""
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def publish(mirror: Path, relpath: str, body: bytes, checksum_of: bytes | None = None) -> None:
    """Put arbitrary zip bytes in the mirror with a CHECKSUM of ``checksum_of`` (default body)."""
    target = mirror / relpath
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(body)
    digest_source = body if checksum_of is None else checksum_of
    (mirror / (relpath + CHECKSUM_SUFFIX)).write_bytes(checksum_line(digest_source, target.name))


def member_name(relpath: str) -> str:
    return Path(relpath).with_suffix(".csv").name


@pytest.fixture
def server(mirror: Path) -> Iterator[ArchiveServer]:
    with ArchiveServer(mirror) as srv:
        yield srv


@pytest.fixture
def raw_root(tmp_path: Path) -> Path:
    return tmp_path / "warehouse" / "raw" / "binance"


@pytest.fixture
def client(server: ArchiveServer, raw_root: Path) -> Iterator[ArchiveClient]:
    with ArchiveClient(server.base_url, raw_root, FAST_LIMITS) as archive_client:
        yield archive_client


@pytest.fixture
def file_client(mirror: Path, raw_root: Path) -> Iterator[ArchiveClient]:
    with ArchiveClient(mirror.as_uri() + "/", raw_root, FAST_LIMITS) as archive_client:
        yield archive_client


def fetch_error(client: ArchiveClient, relpath: str) -> FetchError:
    with pytest.raises(FetchError) as info:
        client.fetch(relpath)
    return info.value


def test_downloads_over_http(
    client: ArchiveClient,
    server: ArchiveServer,
    write_file: WriteFile,
    mirror: Path,
    raw_root: Path,
) -> None:
    write_file(REL, METRICS_HEADER, metrics_rows("2024-01-01"))
    outcome = client.fetch(REL)

    mirror_zip = (mirror / REL).read_bytes()
    assert isinstance(outcome, Landed)
    assert outcome.origin == "downloaded"
    assert outcome.relpath == REL
    assert outcome.path == raw_root / REL
    assert outcome.path.read_bytes() == mirror_zip
    assert (
        outcome.sha256 == hashlib.sha256(mirror_zip).hexdigest() == storage.sha256_of(outcome.path)
    )
    assert (raw_root / CHK).read_bytes() == (mirror / CHK).read_bytes()
    assert files_under(raw_root) == sorted([raw_root / REL, raw_root / CHK])
    assert server.count(CHK) == 1
    assert server.count(REL) == 1


def test_real_binance_zip_lands_over_http(
    client: ArchiveClient, server: ArchiveServer, mirror: Path, raw_root: Path
) -> None:
    """A real archive zip + CHECKSUM (no trailing newline) pass every check byte for byte."""
    source = REAL_DUMPS / "binance-spot" / "klines-1m" / "BTCUSDT-1m-2020-01-01.zip"
    relpath = "data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2020-01-01.zip"
    (mirror / relpath).parent.mkdir(parents=True)
    shutil.copyfile(source, mirror / relpath)
    shutil.copyfile(
        source.with_name(source.name + CHECKSUM_SUFFIX), mirror / (relpath + CHECKSUM_SUFFIX)
    )

    outcome = client.fetch(relpath)

    assert isinstance(outcome, Landed)
    assert outcome.origin == "downloaded"
    assert outcome.path.read_bytes() == source.read_bytes()
    published = source.with_name(source.name + CHECKSUM_SUFFIX).read_text().split()[0]
    assert outcome.sha256 == published


def test_missing_checksum_is_not_published(
    client: ArchiveClient, server: ArchiveServer, raw_root: Path
) -> None:
    outcome = client.fetch(REL)

    assert outcome == NotPublished(REL, server.base_url + REL)
    assert files_under(raw_root) == []
    assert server.count(REL) == 0


def test_checksum_published_but_zip_missing_is_an_error(
    client: ArchiveClient, server: ArchiveServer, write_file: WriteFile, raw_root: Path
) -> None:
    write_file(REL, METRICS_HEADER, metrics_rows("2024-01-01"))
    server.inject(REL, "404")

    error = fetch_error(client, REL)

    assert error.location == server.base_url + REL
    assert "404" in error.problem
    assert files_under(raw_root) == []


@pytest.mark.parametrize("status", ["500", "503", "429"])
def test_transient_status_then_success_is_retried(
    client: ArchiveClient,
    server: ArchiveServer,
    write_file: WriteFile,
    mirror: Path,
    status: Fault,
) -> None:
    write_file(REL, METRICS_HEADER, metrics_rows("2024-01-01"))
    server.inject(REL, status)

    outcome = client.fetch(REL)

    assert isinstance(outcome, Landed)
    assert outcome.origin == "downloaded"
    assert outcome.path.read_bytes() == (mirror / REL).read_bytes()
    assert server.count(REL) == 2


def test_transient_status_on_checksum_is_retried(
    client: ArchiveClient, server: ArchiveServer, write_file: WriteFile
) -> None:
    write_file(REL, METRICS_HEADER, metrics_rows("2024-01-01"))
    server.inject(CHK, "500", "503")

    outcome = client.fetch(REL)

    assert isinstance(outcome, Landed)
    assert server.count(CHK) == 3


def test_persistent_500_gives_up_after_max_attempts(
    client: ArchiveClient, server: ArchiveServer, write_file: WriteFile, raw_root: Path
) -> None:
    write_file(REL, METRICS_HEADER, metrics_rows("2024-01-01"))
    server.inject(REL, "500", times=10)

    error = fetch_error(client, REL)

    url = server.base_url + REL
    assert error.location == url
    assert url in str(error)
    assert "gave up after 3 attempts" in str(error)
    assert "500" in str(error)
    assert server.count(REL) == FAST_LIMITS.max_attempts == 3
    assert files_under(raw_root) == []


def test_client_error_is_not_retried(
    client: ArchiveClient, server: ArchiveServer, write_file: WriteFile, raw_root: Path
) -> None:
    write_file(REL, METRICS_HEADER, metrics_rows("2024-01-01"))
    server.inject(REL, "403")

    error = fetch_error(client, REL)

    assert error.location == server.base_url + REL
    assert "403" in error.problem
    assert server.count(REL) == 1
    assert files_under(raw_root) == []


@pytest.mark.parametrize("fault", ["reset", "short"])
@pytest.mark.parametrize("path", [REL, CHK])
def test_broken_connection_then_success_is_retried(
    client: ArchiveClient,
    server: ArchiveServer,
    write_file: WriteFile,
    mirror: Path,
    raw_root: Path,
    fault: Fault,
    path: str,
) -> None:
    write_file(REL, METRICS_HEADER, metrics_rows("2024-01-01"))
    server.inject(path, fault)

    outcome = client.fetch(REL)

    assert isinstance(outcome, Landed)
    assert outcome.origin == "downloaded"
    assert outcome.path.read_bytes() == (mirror / REL).read_bytes()
    assert (raw_root / CHK).read_bytes() == (mirror / CHK).read_bytes()
    assert server.count(path) == 2
    assert files_under(raw_root) == sorted([raw_root / REL, raw_root / CHK])


def test_persistent_resets_give_up(
    client: ArchiveClient, server: ArchiveServer, write_file: WriteFile, raw_root: Path
) -> None:
    write_file(REL, METRICS_HEADER, metrics_rows("2024-01-01"))
    server.inject(REL, "short", "reset", "short", "reset")

    error = fetch_error(client, REL)

    assert error.location == server.base_url + REL
    assert "gave up after 3 attempts" in error.problem
    assert server.count(REL) == 3
    assert files_under(raw_root) == []


def test_timeout_is_retried(
    server: ArchiveServer, write_file: WriteFile, mirror: Path, raw_root: Path
) -> None:
    write_file(REL, METRICS_HEADER, metrics_rows("2024-01-01"))
    server.slow_seconds = 1.0
    server.inject(REL, "slow")
    limits = replace(FAST_LIMITS, timeout_seconds=0.3)

    with ArchiveClient(server.base_url, raw_root, limits) as client:
        outcome = client.fetch(REL)

    assert isinstance(outcome, Landed)
    assert outcome.path.read_bytes() == (mirror / REL).read_bytes()
    assert server.count(REL) == 2


def test_persistent_timeouts_give_up(
    server: ArchiveServer, write_file: WriteFile, raw_root: Path
) -> None:
    write_file(REL, METRICS_HEADER, metrics_rows("2024-01-01"))
    server.slow_seconds = 1.0
    server.inject(CHK, "slow", "slow", "slow")
    limits = replace(FAST_LIMITS, timeout_seconds=0.3)

    with ArchiveClient(server.base_url, raw_root, limits) as client:
        error = fetch_error(client, REL)

    assert error.location == server.base_url + CHK
    assert "gave up after 3 attempts" in error.problem
    assert "Timeout" in error.problem
    assert server.count(CHK) == 3
    assert server.count(REL) == 0
    assert files_under(raw_root) == []


def test_checksum_mismatch(
    client: ArchiveClient, server: ArchiveServer, mirror: Path, raw_root: Path
) -> None:
    body = zip_bytes(member_name(REL), csv_bytes(METRICS_HEADER, metrics_rows("2024-01-01")))
    publish(mirror, REL, body, checksum_of=b"some other file")

    error = fetch_error(client, REL)

    assert error.location == server.base_url + REL
    assert "checksum mismatch" in error.problem
    assert hashlib.sha256(body).hexdigest() in error.problem
    assert files_under(raw_root) == []


def test_bad_republish_leaves_the_landed_copy_alone(
    client: ArchiveClient,
    server: ArchiveServer,
    write_file: WriteFile,
    mirror: Path,
    raw_root: Path,
) -> None:
    write_file(REL, METRICS_HEADER, metrics_rows("2024-01-01"))
    first = client.fetch(REL)
    assert isinstance(first, Landed)
    old_zip, old_checksum = (raw_root / REL).read_bytes(), (raw_root / CHK).read_bytes()

    new_body = zip_bytes(member_name(REL), csv_bytes(METRICS_HEADER, metrics_rows("2024-01-01", 5)))
    publish(mirror, REL, new_body, checksum_of=b"not what is served")
    outcome = client.fetch(REL)

    # The verified copy stands in, and the archive's failure travels with it.
    assert isinstance(outcome, Landed)
    assert outcome.origin == "landed_copy"
    assert outcome.problem is not None
    assert "checksum mismatch" in outcome.problem
    assert (raw_root / REL).read_bytes() == old_zip
    assert (raw_root / CHK).read_bytes() == old_checksum
    assert files_under(raw_root) == sorted([raw_root / REL, raw_root / CHK])


def test_html_instead_of_zip(
    client: ArchiveClient, server: ArchiveServer, write_file: WriteFile, raw_root: Path
) -> None:
    write_file(REL, METRICS_HEADER, metrics_rows("2024-01-01"))
    server.inject(REL, "html")

    error = fetch_error(client, REL)

    assert error.location == server.base_url + REL
    assert "HTML" in error.problem
    assert server.count(REL) == 1
    assert files_under(raw_root) == []


def test_html_instead_of_checksum(
    client: ArchiveClient, server: ArchiveServer, write_file: WriteFile, raw_root: Path
) -> None:
    write_file(REL, METRICS_HEADER, metrics_rows("2024-01-01"))
    server.inject(CHK, "html")

    error = fetch_error(client, REL)

    assert error.location == server.base_url + REL
    assert "malformed CHECKSUM" in error.problem
    assert server.count(REL) == 0
    assert files_under(raw_root) == []


def test_truncated_zip(
    client: ArchiveClient, server: ArchiveServer, mirror: Path, raw_root: Path
) -> None:
    body = zip_bytes(member_name(REL), csv_bytes(METRICS_HEADER, metrics_rows("2024-01-01", 200)))
    truncated = body[: len(body) * 2 // 3]
    publish(mirror, REL, truncated)

    error = fetch_error(client, REL)

    assert error.location == server.base_url + REL
    assert "truncated or corrupt zip" in error.problem
    assert files_under(raw_root) == []


def two_member_zip(first: str, second: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(first, b"a,b\n1,2\n")
        archive.writestr(second, b"a,b\n3,4\n")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("body", "names"),
    [
        pytest.param(
            two_member_zip("BTCUSDT-metrics-2024-01-01.csv", "extra.csv"),
            ["BTCUSDT-metrics-2024-01-01.csv", "extra.csv"],
            id="two-members",
        ),
        pytest.param(
            zip_bytes("BTCUSDT-metrics-2023-12-31.csv", b"a,b\n1,2\n"),
            ["BTCUSDT-metrics-2023-12-31.csv"],
            id="wrong-member-name",
        ),
    ],
)
def test_zip_must_hold_exactly_the_named_csv(
    client: ArchiveClient,
    server: ArchiveServer,
    mirror: Path,
    raw_root: Path,
    body: bytes,
    names: list[str],
) -> None:
    publish(mirror, REL, body)

    error = fetch_error(client, REL)

    assert error.location == server.base_url + REL
    for name in names:
        assert name in error.problem
    assert "BTCUSDT-metrics-2024-01-01.csv" in error.problem
    assert files_under(raw_root) == []


def test_decompressed_size_cap(server: ArchiveServer, mirror: Path, raw_root: Path) -> None:
    csv = csv_bytes(METRICS_HEADER, metrics_rows("2024-01-01", 200))
    publish(mirror, REL, zip_bytes(member_name(REL), csv))
    limits = replace(FAST_LIMITS, max_uncompressed_bytes=len(csv) - 1)

    with ArchiveClient(server.base_url, raw_root, limits) as client:
        error = fetch_error(client, REL)

    assert error.location == server.base_url + REL
    assert f"decompressed size {len(csv)}" in error.problem
    assert files_under(raw_root) == []


@pytest.mark.parametrize("framing", [None, "chunked"])
def test_download_size_cap(
    server: ArchiveServer, mirror: Path, raw_root: Path, framing: Fault | None
) -> None:
    """Refused on ``Content-Length`` alone, and while streaming when there is none."""
    body = zip_bytes(member_name(REL), csv_bytes(METRICS_HEADER, metrics_rows("2024-01-01", 200)))
    publish(mirror, REL, body)
    if framing is not None:
        server.inject(REL, framing)
    limits = replace(FAST_LIMITS, max_download_bytes=len(body) - 1)

    with ArchiveClient(server.base_url, raw_root, limits) as client:
        error = fetch_error(client, REL)

    assert error.location == server.base_url + REL
    assert f"cap of {len(body) - 1}" in error.problem
    assert server.count(REL) == 1
    assert files_under(raw_root) == []


def test_chunked_download_within_cap_lands(
    client: ArchiveClient, server: ArchiveServer, write_file: WriteFile, mirror: Path
) -> None:
    write_file(REL, METRICS_HEADER, metrics_rows("2024-01-01", 200))
    server.inject(REL, "chunked")
    server.inject(CHK, "chunked")

    outcome = client.fetch(REL)

    assert isinstance(outcome, Landed)
    assert outcome.path.read_bytes() == (mirror / REL).read_bytes()


def test_unchanged_file_is_reused_without_downloading(
    client: ArchiveClient, server: ArchiveServer, write_file: WriteFile, raw_root: Path
) -> None:
    write_file(REL, METRICS_HEADER, metrics_rows("2024-01-01"))
    first = client.fetch(REL)
    second = client.fetch(REL)

    assert isinstance(first, Landed)
    assert isinstance(second, Landed)
    assert first.origin == "downloaded"
    assert second.origin == "reused"
    assert second.sha256 == first.sha256
    assert second.path == first.path
    assert server.count(REL) == 1
    assert server.count(CHK) == 2


def test_republished_file_is_downloaded_again(
    client: ArchiveClient,
    server: ArchiveServer,
    write_file: WriteFile,
    mirror: Path,
    raw_root: Path,
) -> None:
    write_file(REL, METRICS_HEADER, metrics_rows("2024-01-01"))
    first = client.fetch(REL)
    write_file(REL, METRICS_HEADER, metrics_rows("2024-01-01", oi=80000.5))
    new_zip = (mirror / REL).read_bytes()

    second = client.fetch(REL)

    assert isinstance(first, Landed)
    assert isinstance(second, Landed)
    assert second.origin == "downloaded"
    assert second.sha256 != first.sha256
    assert second.sha256 == hashlib.sha256(new_zip).hexdigest()
    assert (raw_root / REL).read_bytes() == new_zip
    assert (raw_root / CHK).read_bytes() == (mirror / CHK).read_bytes()
    assert server.count(REL) == 2
    assert files_under(raw_root) == sorted([raw_root / REL, raw_root / CHK])


def test_unpublished_file_falls_back_to_the_landed_copy(
    client: ArchiveClient,
    server: ArchiveServer,
    write_file: WriteFile,
    mirror: Path,
    raw_root: Path,
) -> None:
    write_file(REL, METRICS_HEADER, metrics_rows("2024-01-01"))
    first = client.fetch(REL)
    (mirror / REL).unlink()
    (mirror / CHK).unlink()

    outcome = client.fetch(REL)

    assert isinstance(first, Landed)
    assert outcome == Landed(REL, raw_root / REL, first.sha256, "raw_only")
    assert server.count(REL) == 1


def test_unpublished_file_with_corrupted_landed_copy_is_an_error(
    client: ArchiveClient,
    server: ArchiveServer,
    write_file: WriteFile,
    mirror: Path,
    raw_root: Path,
) -> None:
    write_file(REL, METRICS_HEADER, metrics_rows("2024-01-01"))
    client.fetch(REL)
    (mirror / CHK).unlink()
    (raw_root / REL).write_bytes(b"PK\x03\x04 damaged")

    error = fetch_error(client, REL)

    assert error.location == str(raw_root / REL)


def test_file_url_success(
    file_client: ArchiveClient, write_file: WriteFile, mirror: Path, raw_root: Path
) -> None:
    write_file(REL, METRICS_HEADER, metrics_rows("2024-01-01"))

    outcome = file_client.fetch(REL)
    again = file_client.fetch(REL)

    assert isinstance(outcome, Landed)
    assert outcome.origin == "downloaded"
    assert outcome.path == raw_root / REL
    assert outcome.path.read_bytes() == (mirror / REL).read_bytes()
    assert (raw_root / CHK).read_bytes() == (mirror / CHK).read_bytes()
    assert isinstance(again, Landed)
    assert again.origin == "reused"


def test_file_url_lands_hard_links_that_no_later_write_reaches(
    file_client: ArchiveClient, write_file: WriteFile, mirror: Path, raw_root: Path
) -> None:
    """A local mirror's file is linked, not copied; the two names never change each other."""
    write_file(REL, METRICS_HEADER, metrics_rows("2024-01-01"))
    old_zip, old_checksum = (mirror / REL).read_bytes(), (mirror / CHK).read_bytes()

    outcome = file_client.fetch(REL)

    assert isinstance(outcome, Landed)
    assert outcome.origin == "downloaded"
    assert outcome.body == old_zip
    for relpath in (REL, CHK):
        assert (raw_root / relpath).samefile(mirror / relpath)
    assert files_under(raw_root) == sorted([raw_root / REL, raw_root / CHK])

    # The archive re-publishes: the mirror's files are replaced, the landed ones keep their bytes
    # (still a verified copy to fall back on), and the next fetch lands the new ones.
    write_file(REL, METRICS_HEADER, metrics_rows("2024-01-01", oi=80000.5))
    new_zip = (mirror / REL).read_bytes()
    assert new_zip != old_zip
    assert (raw_root / REL).read_bytes() == old_zip
    assert (raw_root / CHK).read_bytes() == old_checksum
    again = file_client.fetch(REL)
    assert isinstance(again, Landed)
    assert again.origin == "downloaded"
    assert again.sha256 == hashlib.sha256(new_zip).hexdigest()
    assert (raw_root / REL).samefile(mirror / REL)

    # Writing under raw/ replaces the file too: the mirror keeps its bytes.
    write_bytes_atomically(raw_root / REL, b"PK\x03\x04 damaged")
    assert (mirror / REL).read_bytes() == new_zip


def test_file_url_copies_where_it_cannot_link(
    file_client: ArchiveClient,
    write_file: WriteFile,
    mirror: Path,
    raw_root: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another filesystem (EXDEV) or no permission to link: the verified bytes are written."""
    write_file(REL, METRICS_HEADER, metrics_rows("2024-01-01"))

    def refuse(source: object, target: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", refuse)
    outcome = file_client.fetch(REL)

    assert isinstance(outcome, Landed)
    assert outcome.origin == "downloaded"
    assert (raw_root / REL).read_bytes() == (mirror / REL).read_bytes()
    assert (raw_root / CHK).read_bytes() == (mirror / CHK).read_bytes()
    assert not (raw_root / REL).samefile(mirror / REL)
    assert files_under(raw_root) == sorted([raw_root / REL, raw_root / CHK])


def test_a_file_replaced_after_it_was_read_is_not_linked(tmp_path: Path) -> None:
    """Only the inode whose bytes were read and verified is ever linked into place."""
    source, target = tmp_path / "mirror" / "a.zip", tmp_path / "raw" / "a.zip"
    write_bytes_atomically(source, b"verified bytes")
    read = read_local(source)
    assert read is not None
    write_bytes_atomically(source, b"replaced bytes")

    assert not link_atomically(read.path, target, read.stat)
    assert files_under(tmp_path / "raw") == []

    fresh = read_local(source)
    assert fresh is not None
    assert link_atomically(fresh.path, target, fresh.stat)
    assert target.samefile(source)
    assert files_under(tmp_path / "raw") == [target]


def test_landed_bytes_travel_with_the_outcome(
    client: ArchiveClient,
    server: ArchiveServer,
    write_file: WriteFile,
    mirror: Path,
    raw_root: Path,
) -> None:
    """Downloaded, reused or the landed copy: the bytes verified are the ones handed on."""
    write_file(REL, METRICS_HEADER, metrics_rows("2024-01-01"))
    served = (mirror / REL).read_bytes()

    downloaded, reused = client.fetch(REL), client.fetch(REL)
    (mirror / REL).unlink()
    (mirror / CHK).unlink()
    raw_only = client.fetch(REL)

    for outcome, origin in ((downloaded, "downloaded"), (reused, "reused"), (raw_only, "raw_only")):
        assert isinstance(outcome, Landed)
        assert outcome.origin == origin
        assert outcome.body == served
        assert hashlib.sha256(served).hexdigest() == outcome.sha256


def test_file_url_not_published(file_client: ArchiveClient, mirror: Path, raw_root: Path) -> None:
    outcome = file_client.fetch(REL)

    assert outcome == NotPublished(REL, mirror.as_uri() + "/" + REL)
    assert files_under(raw_root) == []


def test_file_url_checksum_mismatch(
    file_client: ArchiveClient, mirror: Path, raw_root: Path
) -> None:
    body = zip_bytes(member_name(REL), csv_bytes(METRICS_HEADER, metrics_rows("2024-01-01")))
    publish(mirror, REL, body, checksum_of=b"another file")

    error = fetch_error(file_client, REL)

    assert error.location == mirror.as_uri() + "/" + REL
    assert "checksum mismatch" in error.problem
    assert files_under(raw_root) == []


def test_file_url_size_cap(mirror: Path, raw_root: Path, write_file: WriteFile) -> None:
    target = write_file(REL, METRICS_HEADER, metrics_rows("2024-01-01"))
    limits = replace(FAST_LIMITS, max_download_bytes=target.stat().st_size - 1)

    with ArchiveClient(mirror.as_uri() + "/", raw_root, limits) as client:
        error = fetch_error(client, REL)

    assert "exceeds the cap" in error.problem
    assert files_under(raw_root) == []


def test_fetch_many_bounded_concurrency_and_isolated_failures(
    client: ArchiveClient,
    server: ArchiveServer,
    write_file: WriteFile,
    mirror: Path,
    raw_root: Path,
) -> None:
    days = [f"2024-01-{d:02d}" for d in range(1, 13)]
    relpaths = [rel_for(day) for day in days]
    missing = {relpaths[3], relpaths[7], relpaths[10]}
    bad = relpaths[5]
    flaky = relpaths[1]
    for day, relpath in zip(days, relpaths, strict=True):
        if relpath not in missing:
            write_file(relpath, METRICS_HEADER, metrics_rows(day))
    publish(
        mirror,
        bad,
        zip_bytes(member_name(bad), b"x\n"),
        checksum_of=b"something else",
    )
    server.inject(flaky, "500")
    server.delay_seconds = 0.2

    results = client.fetch_many([*relpaths, relpaths[0]])

    assert list(results) == relpaths
    for relpath, outcome in results.items():
        if relpath in missing:
            assert outcome == NotPublished(relpath, server.base_url + relpath)
        elif relpath == bad:
            assert isinstance(outcome, FetchError)
            assert outcome.location == server.base_url + bad
            assert "checksum mismatch" in outcome.problem
        else:
            assert isinstance(outcome, Landed), outcome
            assert outcome.origin == "downloaded"
            assert outcome.path.read_bytes() == (mirror / relpath).read_bytes()
    assert not (raw_root / bad).exists()
    assert server.count(flaky) == 2
    assert server.count(relpaths[0]) == 1
    assert 1 < server.max_in_flight <= FAST_LIMITS.concurrency


@pytest.mark.parametrize(
    "relpath",
    [
        "../outside.zip",
        "data/../../outside.zip",
        "data/futures/../../../../outside.zip",
        "data/..",
        "/etc/passwd",
        "/tmp/outside.zip",
        "data\\..\\..\\outside.zip",
        "",
    ],
)
def test_path_traversal_is_refused(
    client: ArchiveClient, server: ArchiveServer, raw_root: Path, tmp_path: Path, relpath: str
) -> None:
    before = files_under(tmp_path)

    error = fetch_error(client, relpath)

    assert "outside the raw tree" in error.problem
    assert list(server.requested()) == []
    assert files_under(tmp_path) == before
    many = client.fetch_many([relpath, REL])
    assert isinstance(many[relpath], FetchError)
    assert many[REL] == NotPublished(REL, server.base_url + REL)


def test_path_traversal_is_refused_for_file_urls(
    file_client: ArchiveClient, raw_root: Path, tmp_path: Path
) -> None:
    """A real zip + CHECKSUM sits just outside the mirror; ``..`` must not reach it."""
    outside = "outside.zip"
    publish(tmp_path, outside, zip_bytes("outside.csv", b"a\n1\n"))

    error = fetch_error(file_client, f"../{outside}")

    assert "outside the raw tree" in error.problem
    assert files_under(raw_root) == []


REAL_CHECKSUMS = sorted(REAL_DUMPS.rglob("*" + CHECKSUM_SUFFIX))


def test_real_checksums_cover_both_line_endings() -> None:
    endings = {path.read_bytes().endswith(b"\n") for path in REAL_CHECKSUMS}
    assert endings == {True, False}


@pytest.mark.parametrize("path", REAL_CHECKSUMS, ids=lambda p: p.name)
def test_parse_real_checksum(path: Path) -> None:
    text = path.read_text()
    zip_name = path.name.removesuffix(CHECKSUM_SUFFIX)
    published = text.split()[0]

    assert parse_checksum(text, zip_name, "u") == published
    assert parse_checksum(text.rstrip("\n"), zip_name, "u") == published
    assert parse_checksum(text.rstrip("\n") + "\n", zip_name, "u") == published
    zip_path = path.with_name(zip_name)
    if zip_path.exists():
        assert storage.sha256_of(zip_path) == published


GOOD_HASH = "660efeefdc875f052051b94c2976babd013f64c6633bf58ba030764771747b90"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("\n", id="blank"),
        pytest.param(f"{GOOD_HASH[:-1]}  BTCUSDT-1m-2024-01-01.zip\n", id="short-hash"),
        pytest.param(f"{GOOD_HASH}0  BTCUSDT-1m-2024-01-01.zip\n", id="long-hash"),
        pytest.param(f"{'g' * 64}  BTCUSDT-1m-2024-01-01.zip\n", id="not-hex"),
        pytest.param(f"{GOOD_HASH}  BTCUSDT-1m-2024-01-02.zip\n", id="other-name"),
        pytest.param(f"sha256:{GOOD_HASH}  BTCUSDT-1m-2024-01-01.zip\n", id="prefixed"),
        pytest.param("<!DOCTYPE html><html><body>Not Found</body></html>", id="html"),
    ],
)
def test_parse_checksum_rejects_malformed(text: str) -> None:
    with pytest.raises(FetchError) as info:
        parse_checksum(text, "BTCUSDT-1m-2024-01-01.zip", "http://mirror/x.CHECKSUM")
    assert info.value.location == "http://mirror/x.CHECKSUM"


def test_gzip_content_encoding_is_accepted(
    client: ArchiveClient,
    server: ArchiveServer,
    write_file: WriteFile,
    mirror: Path,
    raw_root: Path,
) -> None:
    """A mirror may gzip a response the client said it accepts (httpx sends ``gzip``).

    ``Content-Length`` is then the length of the *encoded* body (RFC 9110 §8.6), so the file
    must land byte for byte instead of failing as a "short body".
    """
    write_file(REL, METRICS_HEADER, metrics_rows("2024-01-01", 200))
    server.inject(CHK, "gzip", times=5)
    server.inject(REL, "gzip", times=5)

    outcome = client.fetch(REL)

    assert isinstance(outcome, Landed)
    assert outcome.path.read_bytes() == (mirror / REL).read_bytes()
    assert (raw_root / CHK).read_bytes() == (mirror / CHK).read_bytes()
    assert server.count(CHK) == 1
    assert server.count(REL) == 1


def test_redirect_is_followed(
    client: ArchiveClient, server: ArchiveServer, write_file: WriteFile, mirror: Path
) -> None:
    write_file(REL, METRICS_HEADER, metrics_rows("2024-01-01"))
    server.inject(REL, "redirect")

    outcome = client.fetch(REL)

    assert isinstance(outcome, Landed)
    assert outcome.path.read_bytes() == (mirror / REL).read_bytes()
    assert server.count(REL) == 2


@pytest.mark.parametrize(
    "faults",
    [
        pytest.param(["bad-gzip"], id="undecodable-content-encoding"),
        pytest.param(["redirect"] * 30, id="redirect-loop"),
    ],
)
def test_non_transport_http_failures_are_fetch_errors(
    client: ArchiveClient,
    server: ArchiveServer,
    write_file: WriteFile,
    raw_root: Path,
    faults: list[Fault],
) -> None:
    """Any bad answer is a FetchError naming the URL, and it does not sink ``fetch_many``."""
    write_file(REL, METRICS_HEADER, metrics_rows("2024-01-01"))
    server.inject(REL, *faults)

    results = client.fetch_many([REL, rel_for("2024-01-02")])

    error = results[REL]
    assert isinstance(error, FetchError)
    assert error.location == server.base_url + REL
    assert results[rel_for("2024-01-02")] == NotPublished(
        rel_for("2024-01-02"), server.base_url + rel_for("2024-01-02")
    )
    assert files_under(raw_root) == []
