"""The bad-input corpus: each bad file is quarantined with the gate it failed named, alone.

Every case stages one good symbol (BTCUSDT) and one bad one (ETHUSDT) for the same day and
checks that the bad one is quarantined (rows and a JSON report under ``quarantine/``) with the
right check, while the good one publishes untouched.
"""

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from simulator.archive import checksum_line, csv_bytes, zip_bytes
from tests.conftest import WriteFile
from tests.factories import epoch_ms, funding_rows, kline_rows, metrics_rows, midnight
from transforms import formats
from transforms.dataset import Dataset
from transforms.facts import FCT_OPEN_INTEREST, build_fact
from transforms.fetch import ArchiveClient, csv_member_name
from transforms.manifests import StagedPartition
from transforms.publish import publish_partition
from transforms.quality import check_names
from transforms.quarantine import quarantine_paths
from transforms.settings import Settings
from transforms.sources import dataset
from transforms.staging import stage_dataset

DAY = date(2024, 1, 2)
KLINES = dataset("binance_um", "klines")
METRICS = dataset("binance_um", "metrics")
FUNDING = dataset("binance_um", "funding_rate")


def stage(ds: Dataset, settings: Settings, day: date = DAY) -> StagedPartition:
    with ArchiveClient(settings.binance_url, settings.raw_root / ds.exchange, settings.limits) as c:
        (partition,) = stage_dataset(ds, [day], settings, c)
    return partition


def write_good(write_file: WriteFile, ds: Dataset) -> None:
    if ds is KLINES:
        write_file(ds.archive_path("BTCUSDT", DAY), formats.KLINE_COLUMNS, kline_rows(DAY))
    elif ds is METRICS:
        write_file(ds.archive_path("BTCUSDT", DAY), formats.METRICS_COLUMNS, metrics_rows(DAY))
    else:
        write_file(
            ds.archive_path("BTCUSDT", DAY),
            formats.FUNDING_RATE_COLUMNS,
            funding_rows(DAY.replace(day=1), 31),
        )


def bad_window(write_file: WriteFile) -> None:
    rows = kline_rows(DAY)
    rows[5][0] = epoch_ms(midnight(date(2024, 1, 3))) + 60_000  # a bar of the next day
    write_file(KLINES.archive_path("ETHUSDT", DAY), formats.KLINE_COLUMNS, rows)


def bad_duplicate_keys(write_file: WriteFile) -> None:
    rows = metrics_rows(DAY, "ETHUSDT")
    twin = list(rows[10])
    twin[2] = 99_999.0  # same instant, another open interest
    write_file(METRICS.archive_path("ETHUSDT", DAY), formats.METRICS_COLUMNS, [*rows, twin])


def bad_negative_oi(write_file: WriteFile) -> None:
    rows = metrics_rows(DAY, "ETHUSDT")
    rows[3][2] = -5.0
    write_file(METRICS.archive_path("ETHUSDT", DAY), formats.METRICS_COLUMNS, rows)


def bad_funding_cap(write_file: WriteFile) -> None:
    rows = funding_rows(DAY.replace(day=1), 31)
    rows[4][2] = 0.05  # the second settlement of 2 January
    write_file(FUNDING.archive_path("ETHUSDT", DAY), formats.FUNDING_RATE_COLUMNS, rows)


def bad_missing_column(write_file: WriteFile) -> None:
    header = [c for c in formats.METRICS_COLUMNS if c != "sum_open_interest"]
    rows = [[v for i, v in enumerate(r) if i != 2] for r in metrics_rows(DAY, "ETHUSDT")]
    write_file(METRICS.archive_path("ETHUSDT", DAY), header, rows)


def bad_timestamp_unit(write_file: WriteFile) -> None:
    rows = kline_rows(DAY)
    for minute, row in enumerate(rows):
        row[0] = epoch_ms(midnight(DAY)) // 1000 + 60 * minute  # seconds: ten digits
    write_file(KLINES.archive_path("ETHUSDT", DAY), formats.KLINE_COLUMNS, rows)


def bad_empty(write_file: WriteFile) -> None:
    write_file(KLINES.archive_path("ETHUSDT", DAY), None, [])


def bad_header_only(write_file: WriteFile) -> None:
    write_file(METRICS.archive_path("ETHUSDT", DAY), formats.METRICS_COLUMNS, [])


CORPUS: list[tuple[str, Dataset, Callable[[WriteFile], None], str, bool]] = [
    ("rows outside the window", KLINES, bad_window, "timestamps_in_window", True),
    (
        "duplicated keys, different values",
        METRICS,
        bad_duplicate_keys,
        "expect_compound_columns_to_be_unique__exchange_symbol_ts",
        True,
    ),
    (
        "negative open interest",
        METRICS,
        bad_negative_oi,
        "expect_column_values_to_be_between__oi_base",
        True,
    ),
    (
        "funding beyond the cap",
        FUNDING,
        bad_funding_cap,
        "expect_column_values_to_be_between__funding_rate",
        True,
    ),
    ("a missing column", METRICS, bad_missing_column, "csv_columns", False),
    ("a wrong timestamp unit", KLINES, bad_timestamp_unit, "timestamp_unit", False),
    ("an empty file", KLINES, bad_empty, "has_rows", False),
    ("a header-only file", METRICS, bad_header_only, "has_rows", False),
]


@pytest.mark.parametrize(
    ("ds", "make_bad", "check", "keeps_rows"),
    [pytest.param(ds, make, check, rows, id=name) for name, ds, make, check, rows in CORPUS],
)
def test_bad_file_is_quarantined_alone(
    settings: Settings,
    write_file: WriteFile,
    ds: Dataset,
    make_bad: Callable[[WriteFile], None],
    check: str,
    keeps_rows: bool,
) -> None:
    write_good(write_file, ds)
    make_bad(write_file)

    partition = stage(ds, settings)

    records = {r.symbol: r for r in partition.symbols}
    assert records["BTCUSDT"].status == "ok"
    assert records["ETHUSDT"].status == "quarantined"
    assert check in records["ETHUSDT"].checks_failed
    assert check in check_names(ds)
    assert partition.path is not None
    published = pq.read_table(partition.path)
    assert set(published["symbol"].to_pylist()) == {"BTCUSDT"}
    assert published.num_rows == records["BTCUSDT"].rows
    data, report = quarantine_paths(settings, ds, DAY, "ETHUSDT")
    assert data.exists() == keeps_rows
    content = json.loads(report.read_text())
    assert check in content["checks_failed"]
    failure = next(f for f in content["failures"] if f["check"] == check)
    assert failure["unexpected_count"] >= 1
    assert failure["sample"], "the report shows what was observed"
    manifest = json.loads(
        (settings.manifest_root / ds.table / f"date={DAY.isoformat()}.json").read_text()
    )
    assert {s["symbol"]: s["status"] for s in manifest["symbols"]} == {
        "BTCUSDT": "ok",
        "ETHUSDT": "quarantined",
    }


def test_an_unknown_extra_column_warns_and_publishes(
    settings: Settings, write_file: WriteFile
) -> None:
    header = [*formats.METRICS_COLUMNS, "sum_new_field"]
    rows = [[*row, 1.0] for row in metrics_rows(DAY, "ETHUSDT")]
    write_file(METRICS.archive_path("ETHUSDT", DAY), header, rows)

    partition = stage(METRICS, settings)

    record = next(r for r in partition.symbols if r.symbol == "ETHUSDT")
    assert record.status == "ok"
    assert record.warnings == ("no_unknown_columns",)
    assert record.rows == 288
    assert not quarantine_paths(settings, METRICS, DAY, "ETHUSDT")[1].exists()


def test_a_grid_gap_publishes_as_partial(settings: Settings, write_file: WriteFile) -> None:
    rows = metrics_rows(DAY, "ETHUSDT")
    write_file(
        METRICS.archive_path("ETHUSDT", DAY), formats.METRICS_COLUMNS, rows[:100] + rows[138:]
    )

    partition = stage(METRICS, settings)

    record = next(r for r in partition.symbols if r.symbol == "ETHUSDT")
    assert record.status == "ok"
    assert record.rows_in_day == 250
    assert record.checks_failed == ()
    assert record.warnings == ("rows_on_grid",)
    assert {k: v for k, v in record.report[0].items() if k != "sample"} == {
        "check": "rows_on_grid",
        "severity": "warn",
        "unexpected_count": 38,
    }


def test_a_fixed_file_clears_its_quarantine(settings: Settings, write_file: WriteFile) -> None:
    bad_negative_oi(write_file)
    stage(METRICS, settings)
    assert quarantine_paths(settings, METRICS, DAY, "ETHUSDT")[1].exists()

    write_file(
        METRICS.archive_path("ETHUSDT", DAY), formats.METRICS_COLUMNS, metrics_rows(DAY, "ETHUSDT")
    )
    partition = stage(METRICS, settings)

    assert next(r for r in partition.symbols if r.symbol == "ETHUSDT").status == "ok"
    assert not any(p.exists() for p in quarantine_paths(settings, METRICS, DAY, "ETHUSDT"))


def test_facts_of_a_quarantined_symbol_day_are_not_built(
    settings: Settings, write_file: WriteFile
) -> None:
    """Even the next-day 00:00 row that the previous day's good file carries stays out."""
    previous = date(2024, 1, 1)
    carried = [*metrics_rows(previous, "ETHUSDT"), metrics_rows(DAY, "ETHUSDT")[0]]
    write_file(METRICS.archive_path("ETHUSDT", previous), formats.METRICS_COLUMNS, carried)
    write_good(write_file, METRICS)
    bad_negative_oi(write_file)
    with ArchiveClient(
        settings.binance_url, settings.raw_root / "binance_um", settings.limits
    ) as c:
        stage_dataset(METRICS, [previous, DAY], settings, c)

    fact = build_fact(FCT_OPEN_INTEREST, DAY, settings.lake_root)
    earlier = build_fact(FCT_OPEN_INTEREST, previous, settings.lake_root)

    assert set(fact["symbol"].to_pylist()) == {"BTCUSDT"}
    assert set(earlier["symbol"].to_pylist()) == {"ETHUSDT"}
    # A later run that publishes the fixed file builds the fact again.
    write_file(
        METRICS.archive_path("ETHUSDT", DAY), formats.METRICS_COLUMNS, metrics_rows(DAY, "ETHUSDT")
    )
    stage(METRICS, settings)
    rebuilt = build_fact(FCT_OPEN_INTEREST, DAY, settings.lake_root)
    publish_partition(rebuilt, settings.lake_root, FCT_OPEN_INTEREST.name, DAY)
    assert set(rebuilt["symbol"].to_pylist()) == {"BTCUSDT", "ETHUSDT"}


def test_an_archive_outage_keeps_the_landed_copy(settings: Settings, write_file: WriteFile) -> None:
    """A re-run while the archive is down must not empty a partition that was good."""
    write_good(write_file, KLINES)
    stage(KLINES, settings)
    down = replace(settings, binance_url="http://127.0.0.1:9/")

    partition = stage(KLINES, down)

    record = next(r for r in partition.symbols if r.symbol == "BTCUSDT")
    assert record.status == "ok"
    assert record.origin == "landed_copy"
    assert record.warnings == ("archive_answered",)
    assert "gave up" in record.report[0]["sample"][0]
    assert partition.rows == 1440


def test_a_narrower_universe_keeps_the_other_symbols(
    settings: Settings, write_file: WriteFile
) -> None:
    write_good(write_file, METRICS)
    write_file(
        METRICS.archive_path("ETHUSDT", DAY), formats.METRICS_COLUMNS, metrics_rows(DAY, "ETHUSDT")
    )
    stage(METRICS, settings)
    only_btc = replace(settings, universe={"binance_um": ("BTCUSDT",)})

    partition = stage(METRICS, only_btc)

    assert partition.path is not None
    assert sorted(set(pq.read_table(partition.path)["symbol"].to_pylist())) == [
        "BTCUSDT",
        "ETHUSDT",
    ]
    assert [r.symbol for r in partition.symbols] == ["BTCUSDT", "ETHUSDT"]
    assert partition.rows == 2 * 288


def test_a_zip_with_corrupt_data_is_quarantined_alone(
    settings: Settings, write_file: WriteFile, mirror: Path
) -> None:
    write_good(write_file, KLINES)
    relpath = KLINES.archive_path("ETHUSDT", DAY)
    body = bytearray(
        zip_bytes(csv_member_name(relpath), csv_bytes(formats.KLINE_COLUMNS, kline_rows(DAY)))
    )
    start = len(body) // 3
    body[start : start + 64] = bytes(64)  # the index stays sound, the deflate stream does not
    (mirror / relpath).parent.mkdir(parents=True, exist_ok=True)
    (mirror / relpath).write_bytes(bytes(body))
    (mirror / (relpath + ".CHECKSUM")).write_bytes(checksum_line(bytes(body), Path(relpath).name))

    partition = stage(KLINES, settings)

    records = {r.symbol: r for r in partition.symbols}
    assert records["ETHUSDT"].status == "quarantined"
    assert records["ETHUSDT"].checks_failed == ("zip_member",)
    assert records["BTCUSDT"].status == "ok"
    assert partition.rows == 1440
