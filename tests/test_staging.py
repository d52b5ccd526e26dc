"""Staging a dataset over days: per-symbol isolation, monthly files, manifests, publishing."""

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import WriteFile
from tests.factories import funding_rows, kline_rows, liquidation_rows, metrics_rows
from transforms import formats, staging
from transforms.dataset import Dataset
from transforms.fetch import ArchiveClient
from transforms.manifests import StagedPartition, SymbolDay
from transforms.settings import Settings
from transforms.sources import dataset
from transforms.staging import stage_dataset

DAY_1, DAY_2 = date(2024, 1, 1), date(2024, 1, 2)


def stage(ds: Dataset, days: list[date], settings: Settings) -> list[StagedPartition]:
    with ArchiveClient(
        settings.binance_url, settings.raw_root / ds.exchange, settings.limits
    ) as client:
        return stage_dataset(ds, days, settings, client)


def test_each_day_publishes_one_sorted_zstd_file(settings: Settings, write_file: WriteFile) -> None:
    klines = dataset("binance_um", "klines")
    for day in (DAY_1, DAY_2):
        for symbol, price in (("ETHUSDT", 10.0), ("BTCUSDT", 100.0)):
            write_file(
                klines.archive_path(symbol, day),
                formats.KLINE_COLUMNS,
                kline_rows(day, price=price),
            )

    partitions = stage(klines, [DAY_1, DAY_2], settings)

    assert [p.day for p in partitions] == [DAY_1, DAY_2]
    for partition in partitions:
        assert partition.rows == 2 * 1440
        assert partition.path is not None
        assert sorted(p.name for p in partition.path.parent.iterdir()) == ["data.parquet"]
        table = pq.read_table(partition.path)
        keys = list(zip(table["symbol"].to_pylist(), table["ts"].to_pylist(), strict=True))
        assert keys == sorted(keys)
        assert table["symbol"].to_pylist()[0] == "BTCUSDT"
        codecs = {
            pq.ParquetFile(partition.path).metadata.row_group(0).column(i).compression
            for i in range(table.num_columns)
        }
        assert codecs == {"ZSTD"}
        assert {s.status for s in partition.symbols} == {"ok"}


def test_a_bad_file_leaves_out_its_symbol_only(settings: Settings, write_file: WriteFile) -> None:
    klines = dataset("binance_um", "klines")
    write_file(klines.archive_path("BTCUSDT", DAY_1), formats.KLINE_COLUMNS, kline_rows(DAY_1))
    broken = kline_rows(DAY_1)
    broken[7][4] = "not-a-price"
    bad_path = klines.archive_path("ETHUSDT", DAY_1)
    write_file(bad_path, formats.KLINE_COLUMNS, broken)
    write_file(klines.archive_path("ETHUSDT", DAY_2), formats.KLINE_COLUMNS, kline_rows(DAY_2))

    day_1, day_2 = stage(klines, [DAY_1, DAY_2], settings)

    statuses = {s.symbol: s for s in day_1.symbols}
    assert statuses["BTCUSDT"].status == "ok"
    assert statuses["ETHUSDT"].status == "quarantined"
    assert statuses["ETHUSDT"].checks_failed == ("csv_values",)
    assert bad_path in (statuses["ETHUSDT"].error or "")
    assert "not-a-price" in (statuses["ETHUSDT"].error or "")
    assert day_1.path is not None
    assert set(pq.read_table(day_1.path)["symbol"].to_pylist()) == {"BTCUSDT"}
    # BTCUSDT has no file on day 2: recorded as not published, ETHUSDT still publishes.
    day_2_statuses = {s.symbol: s.status for s in day_2.symbols}
    assert day_2_statuses == {"BTCUSDT": "not_published", "ETHUSDT": "ok"}
    assert day_2.rows == 1440


def test_monthly_funding_is_split_into_days_and_fetched_once(
    settings: Settings, write_file: WriteFile
) -> None:
    funding = dataset("binance_um", "funding_rate")
    rows = funding_rows(DAY_1, days=31)
    rows.append(list(rows[4]))  # an exact duplicate of the second settlement of 2 January
    relpath = funding.archive_path("BTCUSDT", DAY_1)
    write_file(relpath, formats.FUNDING_RATE_COLUMNS, rows)

    day_1, day_2 = stage(funding, [DAY_1, DAY_2], settings)

    for partition in (day_1, day_2):
        assert partition.path is not None
        table = pq.read_table(partition.path, filters=[("symbol", "=", "BTCUSDT")])
        times = table["funding_time"].to_pylist()
        assert [t.hour for t in times] == [0, 8, 16]
        assert {t.date() for t in times} == {partition.day}
        assert all(t.microsecond == 0 for t in times)
    btc = {p.day: next(s for s in p.symbols if s.symbol == "BTCUSDT") for p in (day_1, day_2)}
    assert btc[DAY_1].duplicates_dropped == 0
    assert btc[DAY_2].duplicates_dropped == 1
    assert btc[DAY_1].source_file == btc[DAY_2].source_file == relpath
    assert (settings.raw_root / "binance_um" / relpath).exists()


def test_batches_of_days_publish_what_one_batch_publishes(
    settings: Settings, write_file: WriteFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    funding = dataset("binance_um", "funding_rate")
    write_file(
        funding.archive_path("BTCUSDT", DAY_1),
        formats.FUNDING_RATE_COLUMNS,
        funding_rows(DAY_1, days=31),
    )
    bad = funding_rows(DAY_1, days=31)
    bad[4][2] = "0.5"  # 50% for one settlement of 2 January: beyond any cap
    write_file(funding.archive_path("ETHUSDT", DAY_1), formats.FUNDING_RATE_COLUMNS, bad)
    days = [DAY_1, DAY_2, date(2024, 1, 3)]

    def staged(
        batch_files: int, warehouse: str
    ) -> list[tuple[date, list[SymbolDay], pa.Table | None]]:
        monkeypatch.setattr(staging, "FILES_PER_BATCH", batch_files)
        ours = replace(settings, warehouse=settings.warehouse / warehouse)
        return [
            (
                p.day,
                [replace(s, origin=None) for s in p.symbols],  # downloaded, or reused later
                pq.read_table(p.path) if p.path else None,
            )
            for p in stage(funding, days, ours)
        ]

    one_batch = staged(1000, "one")
    assert staged(2, "per-day") == one_batch  # two symbols: one day a batch
    statuses = [{s.symbol: s.status for s in symbols} for _, symbols, _ in one_batch]
    assert statuses[1] == {"BTCUSDT": "ok", "ETHUSDT": "quarantined"}
    assert statuses[0] == statuses[2] == {"BTCUSDT": "ok", "ETHUSDT": "ok"}


def test_outside_the_window_nothing_is_fetched_or_published(
    settings: Settings, write_file: WriteFile
) -> None:
    liquidations = dataset("binance_um", "liquidation_snapshot")
    last, after = date(2024, 3, 31), date(2024, 4, 1)
    write_file(
        liquidations.archive_path("BTCUSDT", last),
        formats.LIQUIDATION_SNAPSHOT_COLUMNS,
        liquidation_rows(last),
    )
    # Even a file the mirror has past the window is not fetched.
    write_file(
        liquidations.archive_path("BTCUSDT", after),
        formats.LIQUIDATION_SNAPSHOT_COLUMNS,
        liquidation_rows(after),
    )

    inside, outside = stage(liquidations, [last, after], settings)

    assert inside.rows == 4
    assert outside.path is None
    assert {s.status for s in outside.symbols} == {"outside_window"}
    assert not (
        settings.raw_root / "binance_um" / liquidations.archive_path("BTCUSDT", after)
    ).exists()


def test_manifest_records_every_symbol(settings: Settings, write_file: WriteFile) -> None:
    metrics = dataset("binance_um", "metrics")
    rows = metrics_rows(DAY_1)
    write_file(metrics.archive_path("BTCUSDT", DAY_1), formats.METRICS_COLUMNS, rows + rows)

    (partition,) = stage(metrics, [DAY_1], settings)

    manifest_file = settings.manifest_root / metrics.table / "date=2024-01-01.json"
    manifest = json.loads(manifest_file.read_text())
    by_symbol = {entry["symbol"]: entry for entry in manifest["symbols"]}
    assert by_symbol["BTCUSDT"]["status"] == "ok"
    assert by_symbol["BTCUSDT"]["rows"] == 288
    assert by_symbol["BTCUSDT"]["duplicates_dropped"] == 288
    assert by_symbol["BTCUSDT"]["label_convention"] == "period_start"
    assert len(by_symbol["BTCUSDT"]["sha256"]) == 64
    assert by_symbol["ETHUSDT"]["status"] == "not_published"
    assert manifest["rows"] == partition.rows == 288


def test_exchange_outside_the_universe_does_nothing(settings: Settings, tmp_path: Path) -> None:
    only_spot = Settings(
        warehouse=settings.warehouse,
        binance_url=settings.binance_url,
        universe={"binance_spot": ("BTCUSDT",)},
        limits=settings.limits,
    )
    assert stage(dataset("binance_um", "klines"), [DAY_1], only_spot) == []
    assert not (settings.lake_root / "stg_binance_um_klines").exists()


@pytest.mark.parametrize("rerun_rows", [1440, 10])
def test_republishing_replaces_the_partition_whole(
    settings: Settings, write_file: WriteFile, rerun_rows: int
) -> None:
    klines = dataset("binance_um", "klines")
    relpath = klines.archive_path("BTCUSDT", DAY_1)
    write_file(relpath, formats.KLINE_COLUMNS, kline_rows(DAY_1))
    stage(klines, [DAY_1], settings)
    # The archive re-publishes the day with different content: the new file replaces the old.
    write_file(relpath, formats.KLINE_COLUMNS, kline_rows(DAY_1, minutes=rerun_rows, price=50.0))

    (partition,) = stage(klines, [DAY_1], settings)

    assert partition.path is not None
    assert sorted(p.name for p in partition.path.parent.iterdir()) == ["data.parquet"]
    table = pq.read_table(partition.path)
    assert table.num_rows == rerun_rows
    assert table["open"][0].as_py() == 50.0
    assert next(s for s in partition.symbols if s.symbol == "BTCUSDT").origin == "downloaded"
