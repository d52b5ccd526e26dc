"""Source plug-ins (archive layout, availability windows) and runtime settings."""

import re
from datetime import date, timedelta
from pathlib import Path, PurePosixPath

import pytest

from tests.conftest import REAL_DUMPS
from transforms.dataset import Cadence, Dataset, Source
from transforms.errors import ConfigError
from transforms.schemas import Kind
from transforms.settings import (
    DEFAULT_BINANCE_URL,
    DEFAULT_UNIVERSE,
    Settings,
    check_base_url,
    format_universe,
    parse_universe,
)
from transforms.sources import DATASETS, EXCHANGES, dataset
from transforms.sources.binance import cm_pair, contract_size_usd

# Archive layout (FORMATS.md §1.1, §1.8)

D = date(2024, 1, 1)

EXPECTED_PATHS: list[tuple[str, str, str, date, str]] = [
    # USDⓈ-M
    (
        "binance_um",
        "klines",
        "BTCUSDT",
        D,
        "data/futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01-01.zip",
    ),
    (
        "binance_um",
        "mark_price_klines",
        "BTCUSDT",
        D,
        "data/futures/um/daily/markPriceKlines/BTCUSDT/1m/BTCUSDT-1m-2024-01-01.zip",
    ),
    (
        "binance_um",
        "index_price_klines",
        "BTCUSDT",
        D,
        "data/futures/um/daily/indexPriceKlines/BTCUSDT/1m/BTCUSDT-1m-2024-01-01.zip",
    ),
    (
        "binance_um",
        "premium_index_klines",
        "BTCUSDT",
        D,
        "data/futures/um/daily/premiumIndexKlines/BTCUSDT/1m/BTCUSDT-1m-2024-01-01.zip",
    ),
    (
        "binance_um",
        "metrics",
        "BTCUSDT",
        D,
        "data/futures/um/daily/metrics/BTCUSDT/BTCUSDT-metrics-2024-01-01.zip",
    ),
    (
        "binance_um",
        "funding_rate",
        "BTCUSDT",
        D,
        "data/futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2024-01.zip",
    ),
    (
        "binance_um",
        "funding_rate",
        "ETHUSDT",
        date(2024, 2, 29),
        "data/futures/um/monthly/fundingRate/ETHUSDT/ETHUSDT-fundingRate-2024-02.zip",
    ),
    (
        "binance_um",
        "liquidation_snapshot",
        "BTCUSDT",
        date(2024, 3, 31),
        "data/futures/um/daily/liquidationSnapshot/BTCUSDT/BTCUSDT-liquidationSnapshot-2024-03-31.zip",
    ),
    # COIN-M
    (
        "binance_cm",
        "klines",
        "BTCUSD_PERP",
        D,
        "data/futures/cm/daily/klines/BTCUSD_PERP/1m/BTCUSD_PERP-1m-2024-01-01.zip",
    ),
    (
        "binance_cm",
        "mark_price_klines",
        "BTCUSD_PERP",
        D,
        "data/futures/cm/daily/markPriceKlines/BTCUSD_PERP/1m/BTCUSD_PERP-1m-2024-01-01.zip",
    ),
    (
        "binance_cm",
        "index_price_klines",
        "BTCUSD_PERP",
        D,
        "data/futures/cm/daily/indexPriceKlines/BTCUSD/1m/BTCUSD-1m-2024-01-01.zip",
    ),
    (
        "binance_cm",
        "index_price_klines",
        "ETHUSD_PERP",
        D,
        "data/futures/cm/daily/indexPriceKlines/ETHUSD/1m/ETHUSD-1m-2024-01-01.zip",
    ),
    (
        "binance_cm",
        "premium_index_klines",
        "BTCUSD_PERP",
        D,
        "data/futures/cm/daily/premiumIndexKlines/BTCUSD_PERP/1m/BTCUSD_PERP-1m-2024-01-01.zip",
    ),
    (
        "binance_cm",
        "metrics",
        "BTCUSD_PERP",
        D,
        "data/futures/cm/daily/metrics/BTCUSD_PERP/BTCUSD_PERP-metrics-2024-01-01.zip",
    ),
    (
        "binance_cm",
        "funding_rate",
        "BTCUSD_PERP",
        date(2023, 12, 17),
        "data/futures/cm/monthly/fundingRate/BTCUSD_PERP/BTCUSD_PERP-fundingRate-2023-12.zip",
    ),
    (
        "binance_cm",
        "liquidation_snapshot",
        "BTCUSD_PERP",
        date(2023, 6, 25),
        "data/futures/cm/daily/liquidationSnapshot/BTCUSD_PERP/"
        "BTCUSD_PERP-liquidationSnapshot-2023-06-25.zip",
    ),
    # Delivery (quarterly) contracts: the perpetuals' data types under their own symbols
    (
        "binance_um",
        "delivery_klines",
        "BTCUSDT_240329",
        D,
        "data/futures/um/daily/klines/BTCUSDT_240329/1m/BTCUSDT_240329-1m-2024-01-01.zip",
    ),
    (
        "binance_um",
        "delivery_metrics",
        "BTCUSDT_240329",
        D,
        "data/futures/um/daily/metrics/BTCUSDT_240329/BTCUSDT_240329-metrics-2024-01-01.zip",
    ),
    (
        "binance_cm",
        "delivery_klines",
        "BTCUSD_240329",
        D,
        "data/futures/cm/daily/klines/BTCUSD_240329/1m/BTCUSD_240329-1m-2024-01-01.zip",
    ),
    (
        "binance_cm",
        "delivery_metrics",
        "BTCUSD_240329",
        D,
        "data/futures/cm/daily/metrics/BTCUSD_240329/BTCUSD_240329-metrics-2024-01-01.zip",
    ),
    # Spot
    (
        "binance_spot",
        "klines",
        "BTCUSDT",
        date(2020, 1, 1),
        "data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2020-01-01.zip",
    ),
]


@pytest.mark.parametrize(("exchange", "name", "symbol", "day", "expected"), EXPECTED_PATHS)
def test_archive_path_matches_binance_layout(
    exchange: str, name: str, symbol: str, day: date, expected: str
) -> None:
    assert dataset(exchange, name).archive_path(symbol, day) == expected


ARCHIVE_DATASETS = [d for d in DATASETS if d.source is Source.ARCHIVE]
REST_DATASETS = [d for d in DATASETS if d.is_rest]


def test_every_dataset_has_an_expected_path() -> None:
    covered = {(exchange, name) for exchange, name, *_ in EXPECTED_PATHS}
    assert covered == {(d.exchange, d.name) for d in ARCHIVE_DATASETS}


@pytest.mark.parametrize(
    ("exchange", "name", "symbol", "expected"),
    [
        ("bitmex", "funding_rate", "XBTUSD", "funding/XBTUSD/2022-07"),
        ("bybit", "funding_rate", "BTCUSDT", "funding/BTCUSDT/2022-07"),
        ("bybit", "open_interest", "BTCUSDT", "open_interest/BTCUSDT/2022-07-09"),
        ("okx", "funding_rate", "BTC-USDT-SWAP", "funding/BTC-USDT-SWAP/2022-07"),
        ("okx", "open_interest", "BTC-USDT-SWAP", "open_interest/BTC-USDT-SWAP/2022-07-09"),
        ("binance_um", "funding_rate_rest", "BTCUSDT", "fapi_funding/BTCUSDT/2022-07"),
    ],
)
def test_rest_chunks_are_a_month_of_funding_or_a_day_of_open_interest(
    exchange: str, name: str, symbol: str, expected: str
) -> None:
    assert dataset(exchange, name).archive_path(symbol, date(2022, 7, 9)) == expected


@pytest.mark.parametrize(
    ("exchange", "name", "day", "expected"),
    [
        (
            "hyperliquid",
            "funding_rate",
            date(2025, 7, 27),
            "hyperliquid-archive/asset_ctxs/20250727.csv.lz4",
        ),
        (
            "hyperliquid",
            "klines",
            date(2023, 5, 20),
            "hyperliquid-archive/asset_ctxs/20230520.csv.lz4",
        ),
        (
            "hyperliquid",
            "liquidations",
            date(2025, 7, 27),
            "hl-mainnet-node-data/fills_days/20250727",
        ),
        ("binance_um", "liquidation_stream", date(2025, 3, 1), "2025-03-01"),
        ("okx", "liquidation_stream", date(2025, 3, 1), "2025-03-01"),
    ],
)
def test_shared_files_ignore_the_symbol(exchange: str, name: str, day: date, expected: str) -> None:
    ds = dataset(exchange, name)
    assert ds.shared_file
    assert ds.archive_path("BTC", day) == ds.archive_path("ETH", day) == expected


def test_hyperliquid_fills_change_layout_at_the_cutover_hour() -> None:
    from transforms.sources.hyperliquid import fills_hour_key

    cutover = date(2025, 7, 27)
    assert fills_hour_key(cutover, 7) == "hl-mainnet-node-data/node_fills/hourly/20250727/7.lz4"
    assert fills_hour_key(cutover, 8) == (
        "hl-mainnet-node-data/node_fills_by_block/hourly/20250727/8.lz4"
    )
    assert fills_hour_key(date(2025, 6, 1), 23).startswith("hl-mainnet-node-data/node_fills/")


def test_every_rest_dataset_has_a_chunk_path_test() -> None:
    assert {(d.exchange, d.name) for d in REST_DATASETS} == {
        ("bitmex", "funding_rate"),
        ("bybit", "funding_rate"),
        ("bybit", "open_interest"),
        ("okx", "funding_rate"),
        ("okx", "open_interest"),
        ("binance_um", "funding_rate_rest"),
    }


@pytest.mark.parametrize("ds", ARCHIVE_DATASETS, ids=lambda d: d.table)
def test_archive_path_general_shape(ds: Dataset) -> None:
    symbol = "BTCUSD_PERP" if ds.exchange == "binance_cm" else "BTCUSDT"
    path = PurePosixPath(ds.archive_path(symbol, date(2022, 7, 9)))
    assert path.parts[0] == "data"
    assert path.suffix == ".zip"
    cadence_part = "monthly" if ds.cadence is Cadence.MONTHLY else "daily"
    assert cadence_part in path.parts
    # Kline-class names never carry the type; every other type does.
    if ds.kind is Kind.KLINE:
        assert path.parts[-2] == "1m"
        assert re.fullmatch(r"[A-Z0-9_]+-1m-2022-07-09\.zip", path.name)
    else:
        data_type = path.parts[-3]
        period = "2022-07" if ds.cadence is Cadence.MONTHLY else "2022-07-09"
        assert path.name == f"{path.parts[-2]}-{data_type}-{period}.zip"


def test_kline_file_names_do_not_carry_the_kline_type() -> None:
    names = {
        PurePosixPath(dataset("binance_um", n).archive_path("BTCUSDT", D)).name
        for n in ("klines", "mark_price_klines", "index_price_klines", "premium_index_klines")
    }
    assert names == {"BTCUSDT-1m-2024-01-01.zip"}


def test_monthly_dataset_maps_every_day_of_a_month_to_one_file() -> None:
    funding = dataset("binance_um", "funding_rate")
    paths = {funding.archive_path("BTCUSDT", date(2024, 2, d)) for d in range(1, 30)}
    assert paths == {"data/futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2024-02.zip"}
    assert funding.period_key(date(2024, 2, 29)) == "2024-02"
    assert dataset("binance_um", "metrics").period_key(date(2024, 2, 29)) == "2024-02-29"


REAL_CHECKSUMS: list[tuple[str, str, str, str, date]] = [
    (
        "binance-cm/liquidationSnapshot/BTCUSD_PERP-liquidationSnapshot-2023-06-25.zip.CHECKSUM",
        "binance_cm",
        "liquidation_snapshot",
        "BTCUSD_PERP",
        date(2023, 6, 25),
    ),
    (
        "binance-um/markPriceKlines-1m/BTCUSDT-1m-2024-01-01.zip.CHECKSUM",
        "binance_um",
        "mark_price_klines",
        "BTCUSDT",
        date(2024, 1, 1),
    ),
    (
        "binance-spot/klines-1m/BTCUSDT-1m-2020-01-01.zip.CHECKSUM",
        "binance_spot",
        "klines",
        "BTCUSDT",
        date(2020, 1, 1),
    ),
    (
        "binance-spot/klines-1m/BTCUSDT-1m-2020-01-02.zip.CHECKSUM",
        "binance_spot",
        "klines",
        "BTCUSDT",
        date(2020, 1, 2),
    ),
    (
        "binance-spot/klines-1m/BTCUSDT-1m-2020-01-03.zip.CHECKSUM",
        "binance_spot",
        "klines",
        "BTCUSDT",
        date(2020, 1, 3),
    ),
]


def checksum_tokens(path: Path) -> tuple[str, str]:
    digest, name = path.read_text().split()
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    return digest, name


@pytest.mark.parametrize(("relpath", "exchange", "name", "symbol", "day"), REAL_CHECKSUMS)
def test_real_checksum_names_match_archive_path(
    relpath: str, exchange: str, name: str, symbol: str, day: date
) -> None:
    checksum = REAL_DUMPS / relpath
    _, zip_name = checksum_tokens(checksum)
    assert checksum.name == f"{zip_name}.CHECKSUM"
    archive_path = PurePosixPath(dataset(exchange, name).archive_path(symbol, day))
    assert archive_path.name == zip_name
    # The saved folder is named after the archive's dataType directory.
    data_type = checksum.parent.name.split("-")[0]
    assert data_type in archive_path.parts


def test_every_real_checksum_is_covered() -> None:
    found = {p.relative_to(REAL_DUMPS).as_posix() for p in REAL_DUMPS.rglob("*.CHECKSUM")}
    covered = {relpath for relpath, *_ in REAL_CHECKSUMS}
    assert covered <= found
    # The only other one is aggTrades, a type this warehouse does not ingest.
    assert found - covered == {"binance-um/aggTrades/BTCUSDT-aggTrades-2020-01-01.zip.CHECKSUM"}


def test_real_non_kline_checksum_uses_symbol_type_date_naming() -> None:
    checksum = REAL_DUMPS / "binance-um/aggTrades/BTCUSDT-aggTrades-2020-01-01.zip.CHECKSUM"
    digest, zip_name = checksum_tokens(checksum)
    assert digest == "638e72c179e4965c2a6521bb27295930d09126433efe0cc3acd4e925ada955ac"
    assert zip_name == "BTCUSDT-aggTrades-2020-01-01.zip"
    # Same {SYM}-{dataType}-{date} rule the metrics / liquidation paths follow.
    metrics_name = PurePosixPath(
        dataset("binance_um", "metrics").archive_path("BTCUSDT", date(2020, 1, 1))
    ).name
    assert metrics_name == zip_name.replace("aggTrades", "metrics")


def test_real_checksum_trailing_newlines() -> None:
    with_lf = (REAL_DUMPS / REAL_CHECKSUMS[0][0]).read_bytes()
    without_lf = (REAL_DUMPS / REAL_CHECKSUMS[2][0]).read_bytes()
    assert with_lf.endswith(b"\n")
    assert with_lf.split()[0].decode().startswith("2068add7")
    assert not without_lf.endswith(b"\n")
    assert len(without_lf) == 91


# Availability windows


def test_um_liquidation_window() -> None:
    um = dataset("binance_um", "liquidation_snapshot")
    assert um.is_available(date(2024, 3, 31))
    assert not um.is_available(date(2024, 4, 1))
    assert not um.is_available(date(2026, 1, 1))
    assert um.is_available(date(2023, 6, 25))
    assert not um.is_available(date(2023, 6, 24))


def test_cm_liquidation_window() -> None:
    cm = dataset("binance_cm", "liquidation_snapshot")
    assert cm.available_from == date(2023, 6, 25)
    assert cm.available_until == date(2024, 10, 14)
    assert cm.is_available(date(2024, 10, 14))
    assert not cm.is_available(date(2024, 10, 15))
    assert cm.is_available(date(2024, 4, 1))
    assert not cm.is_available(date(2023, 6, 24))


@pytest.mark.parametrize(
    ("exchange", "name", "first_day"),
    [
        ("binance_um", "klines", date(2019, 9, 8)),
        ("binance_um", "premium_index_klines", date(2019, 9, 8)),
        ("binance_um", "metrics", date(2020, 9, 1)),
        ("binance_um", "funding_rate", date(2019, 9, 8)),
        ("binance_cm", "klines", date(2020, 8, 10)),
        ("binance_cm", "index_price_klines", date(2020, 8, 10)),
        ("binance_cm", "metrics", date(2020, 9, 1)),
        ("binance_cm", "funding_rate", date(2020, 8, 10)),
        ("binance_spot", "klines", date(2017, 8, 17)),
    ],
)
def test_dataset_window_starts(exchange: str, name: str, first_day: date) -> None:
    ds = dataset(exchange, name)
    assert ds.available_from == first_day
    assert ds.available_until is None
    assert ds.is_available(first_day)
    assert not ds.is_available(first_day - timedelta(days=1))
    assert ds.is_available(date(2030, 1, 1))


@pytest.mark.parametrize("ds", DATASETS, ids=lambda d: d.table)
def test_nothing_is_available_before_the_window(ds: Dataset) -> None:
    assert not ds.is_available(ds.available_from - timedelta(days=1))
    assert not ds.is_available(ds.available_from - timedelta(days=400))
    assert ds.is_available(ds.available_from)
    if ds.available_until is not None:
        assert ds.is_available(ds.available_until)
        assert not ds.is_available(ds.available_until + timedelta(days=1))


# Registry


def test_all_thirty_six_datasets_exist() -> None:
    assert len(DATASETS) == 36
    by_exchange: dict[str, set[str]] = {}
    for d in DATASETS:
        by_exchange.setdefault(d.exchange, set()).add(d.name)
    futures = {
        "klines",
        "mark_price_klines",
        "index_price_klines",
        "premium_index_klines",
        "metrics",
        "funding_rate",
        "liquidation_snapshot",
        "delivery_klines",
        "delivery_metrics",
    }
    contexts = {"klines", "mark_price_klines", "index_price_klines", "premium_index_klines"}
    assert by_exchange == {
        "binance_um": futures | {"funding_rate_rest", "liquidation_stream"},
        "binance_cm": futures,
        "binance_spot": {"klines"},
        "bitmex": {"funding_rate"},
        "bybit": {"funding_rate", "open_interest", "liquidation_stream"},
        "okx": {"funding_rate", "open_interest", "liquidation_stream"},
        "hyperliquid": contexts | {"funding_rate", "open_interest", "liquidations"},
        "cftc": {"cot_tff"},
    }
    assert EXCHANGES == (
        "binance_um",
        "binance_cm",
        "binance_spot",
        "bitmex",
        "bybit",
        "okx",
        "hyperliquid",
        "cftc",
    )


def test_dataset_tables_are_named_and_unique() -> None:
    tables = [d.table for d in DATASETS]
    assert len(set(tables)) == 36
    for d in DATASETS:
        assert d.table == f"stg_{d.exchange}_{d.name}"
    assert dataset("binance_cm", "liquidation_snapshot").table == (
        "stg_binance_cm_liquidation_snapshot"
    )
    assert dataset("binance_spot", "klines").table == "stg_binance_spot_klines"


def test_dataset_kinds_and_cadences() -> None:
    for d in DATASETS:
        expected_kind = {
            "metrics": Kind.METRICS,
            "delivery_metrics": Kind.METRICS,
            "open_interest": Kind.METRICS,
            "funding_rate": Kind.FUNDING_RATE,
            "funding_rate_rest": Kind.FUNDING_RATE,
            "liquidation_snapshot": Kind.LIQUIDATION,
            "liquidations": Kind.LIQUIDATION,
            "liquidation_stream": Kind.LIQUIDATION,
            "cot_tff": Kind.COT,
        }.get(d.name, Kind.KLINE)
        assert d.kind is expected_kind
        # Funding is monthly in Binance's archive and in REST chunks; Hyperliquid's is daily.
        monthly = d.kind is Kind.FUNDING_RATE and d.exchange != "hyperliquid"
        expected_cadence = Cadence.MONTHLY if monthly else Cadence.DAILY
        assert d.cadence is expected_cadence


@pytest.mark.parametrize("ds", DATASETS, ids=lambda d: d.table)
def test_every_dataset_says_what_it_means_and_where_it_comes_from(ds: Dataset) -> None:
    # The description opens the staged table's documentation: whole sentences.
    assert ds.description.strip()
    assert ds.description.endswith(".")
    # The origin is one clause of "`<exchange>` `<name>`, <origin>, published for …".
    assert ds.origin.strip()
    assert "\n" not in ds.origin
    assert not ds.origin.endswith((".", ","))


@pytest.mark.parametrize(
    ("exchange", "name", "origin"),
    [
        ("binance_um", "klines", "daily archive files"),
        ("binance_cm", "funding_rate", "monthly archive files"),
        (
            "bitmex",
            "funding_rate",
            "paged REST history (`api/v1/funding`, one chunk of pages per symbol and month)",
        ),
        (
            "bybit",
            "open_interest",
            "paged REST history (`v5/market/open-interest`, one chunk of pages per symbol and day)",
        ),
        ("binance_spot", "klines", "daily archive files"),
        ("okx", "liquidation_stream", "the recorder's closed hourly files of the day"),
    ],
)
def test_origin_follows_the_archive_cadence_or_the_rest_path(
    exchange: str, name: str, origin: str
) -> None:
    assert dataset(exchange, name).origin == origin


def test_a_name_several_venues_publish_is_described_alike() -> None:
    by_name: dict[str, set[str]] = {}
    for d in DATASETS:
        by_name.setdefault(d.name, set()).add(d.description)
    assert {name: len(texts) for name, texts in by_name.items() if len(texts) > 1} == {}


def test_unknown_dataset_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="binance_spot/metrics"):
        dataset("binance_spot", "metrics")
    with pytest.raises(KeyError):
        dataset("bybit", "klines")


# Contract sizes


@pytest.mark.parametrize(
    ("symbol", "size"),
    [
        ("BTCUSD_PERP", 100.0),
        ("BTCUSD_240628", 100.0),
        ("BTCUSD", 100.0),
        ("ETHUSD_PERP", 10.0),
        ("SOLUSD_PERP", 10.0),
        ("XRPUSD_PERP", 10.0),
    ],
)
def test_contract_size_usd(symbol: str, size: float) -> None:
    assert contract_size_usd(symbol) == size


def test_cm_pair() -> None:
    assert cm_pair("BTCUSD_PERP") == "BTCUSD"
    assert cm_pair("ETHUSD_240628") == "ETHUSD"
    assert cm_pair("BTCUSD") == "BTCUSD"


# Settings


def test_parse_universe_documented_syntax() -> None:
    text = "binance_um:BTCUSDT,ETHUSDT;binance_cm:BTCUSD_PERP;binance_spot:BTCUSDT"
    universe = parse_universe(text)
    assert universe == {
        "binance_um": ("BTCUSDT", "ETHUSDT"),
        "binance_cm": ("BTCUSD_PERP",),
        "binance_spot": ("BTCUSDT",),
    }
    assert format_universe(universe) == text


def test_parse_universe_tolerates_spaces_and_merges_repeats() -> None:
    universe = parse_universe(
        " binance_um : BTCUSDT , ETHUSDT ; binance_um:ETHUSDT,1000PEPEUSDT ;; "
    )
    assert universe == {"binance_um": ("BTCUSDT", "ETHUSDT", "1000PEPEUSDT")}


def test_default_universe_parses() -> None:
    assert parse_universe(DEFAULT_UNIVERSE) == {
        "binance_um": ("BTCUSDT", "ETHUSDT", "SOLUSDT"),
        "binance_cm": ("BTCUSD_PERP",),
        "binance_spot": ("BTCUSDT", "ETHUSDT", "SOLUSDT"),
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("deribit:BTC-PERPETUAL", "unknown exchange"),
        ("binance_um:BTCUSDT;kraken:XBTUSD", "unknown exchange"),
        ("binance_um:../etc", "not a valid ticker"),
        ("binance_um:BTCUSDT,../../etc/passwd", "not a valid ticker"),
        ("binance_um:btcusdt", "not a valid ticker"),
        ("binance_um:BTC/USDT", "not a valid ticker"),
        ("binance_um:BTC.USDT", "not a valid ticker"),
        ("binance_cm:BTCUSD_PERP_X_Y", "not a valid ticker"),
        ("okx:BTC--USDT", "not a valid ticker"),
        ("binance_um", "must look like"),
        ("", "empty"),
        ("  ;  ; ", "empty"),
    ],
)
def test_parse_universe_rejects(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_universe(text)


def test_parse_universe_rejects_exchange_without_symbols() -> None:
    """``exchange:SYMBOL[,SYMBOL]`` needs a symbol; ``binance_um:`` pulls nothing at all."""
    with pytest.raises(ConfigError):
        parse_universe("binance_um:")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://data.binance.vision/", "https://data.binance.vision/"),
        ("https://data.binance.vision", "https://data.binance.vision/"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000/"),
        ("file:///srv/mirror", "file:///srv/mirror/"),
    ],
)
def test_check_base_url_accepts(url: str, expected: str) -> None:
    assert check_base_url(url) == expected


@pytest.mark.parametrize(
    "url", ["ftp://data.binance.vision/", "data.binance.vision", "/srv/mirror", ""]
)
def test_check_base_url_rejects(url: str) -> None:
    with pytest.raises(ConfigError, match="must start with"):
        check_base_url(url)


ENV_VARS = ("TREADMILL_WAREHOUSE", "TREADMILL_BINANCE_URL", "TREADMILL_UNIVERSE")


def test_settings_from_env_honours_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TREADMILL_WAREHOUSE", str(tmp_path / "wh"))
    monkeypatch.setenv("TREADMILL_BINANCE_URL", "http://localhost:9000")
    monkeypatch.setenv("TREADMILL_UNIVERSE", "binance_cm:ETHUSD_PERP")
    settings = Settings.from_env()
    assert settings.warehouse == (tmp_path / "wh").resolve()
    assert settings.binance_url == "http://localhost:9000/"
    assert settings.universe == {"binance_cm": ("ETHUSD_PERP",)}
    assert settings.symbols("binance_cm") == ("ETHUSD_PERP",)
    assert settings.symbols("binance_um") == ()
    assert settings.raw_root == (tmp_path / "wh").resolve() / "raw"
    assert settings.lake_root == (tmp_path / "wh").resolve() / "lake"
    assert settings.manifest_root == (tmp_path / "wh").resolve() / "manifests"


def test_settings_from_env_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env()
    assert settings.warehouse == (tmp_path / "warehouse").resolve()
    assert settings.binance_url == DEFAULT_BINANCE_URL == "https://data.binance.vision/"
    assert settings.universe == parse_universe(DEFAULT_UNIVERSE)


def test_settings_arguments_override_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TREADMILL_WAREHOUSE", str(tmp_path / "from-env"))
    monkeypatch.setenv("TREADMILL_BINANCE_URL", "http://env.invalid/")
    monkeypatch.setenv("TREADMILL_UNIVERSE", "binance_um:BTCUSDT")
    settings = Settings.from_env(
        warehouse=tmp_path / "explicit",
        binance_url="file:///srv/mirror",
        universe="binance_spot:ETHUSDT",
    )
    assert settings.warehouse == (tmp_path / "explicit").resolve()
    assert settings.binance_url == "file:///srv/mirror/"
    assert settings.universe == {"binance_spot": ("ETHUSDT",)}


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("TREADMILL_BINANCE_URL", "ftp://data.binance.vision/"),
        ("TREADMILL_UNIVERSE", "binance_um:../etc"),
        ("TREADMILL_UNIVERSE", "okx:BTC-USDT-SWAP-X-Y"),
    ],
)
def test_settings_from_env_validates(monkeypatch: pytest.MonkeyPatch, var: str, value: str) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError):
        Settings.from_env()


def test_settings_with_limits_copies() -> None:
    settings = Settings(warehouse=Path("/tmp/wh"))
    faster = settings.with_limits(timeout_seconds=1.5, max_attempts=2)
    assert faster.limits.timeout_seconds == 1.5
    assert faster.limits.max_attempts == 2
    assert settings.limits.timeout_seconds == 60.0
    assert faster.universe == settings.universe
