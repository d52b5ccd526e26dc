"""Basis, term structure and volume shares (issue 16, items 2, 3 and 5's last two charts).

A tiny lake is written by hand in the published layout, with the ``contract_type`` and
``expiry`` columns of issue 16: a day of bitcoin's perpetuals, delivery contracts (USDⓈ-M
``BTCUSDT_240329`` and ``BTCUSDT_240628``, COIN-M ``BTCUSD_240329``) and spot pair, an ether
delivery contract without any index, funding per venue and across venues; then a second day
written before the facts carried ``contract_type``. ``fct_basis_1h`` and
``fct_volume_shares_1d`` are built from it and their numbers compared with values worked out
by hand; their checks pass on them and fail on tables broken on purpose; the report's stacked
open interest panel and volume-share chart are read, drawn and written.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from transforms.fact_checks import run_fact_checks
from transforms.facts import (
    FCT_BASIS_1H,
    FCT_FUNDING,
    FCT_FUNDING_CROSS_VENUE,
    FCT_OPEN_INTEREST,
    FCT_PRICE_1M,
    FCT_VOLUME_SHARES_1D,
    build_fact,
    with_contract_columns,
)
from transforms.publish import PARTITION_FILE, partition_dir, publish_partition
from transforms.report.build import build_report
from transforms.report.charts.volume_shares import has_delivery_volume, volume_share_chart
from transforms.report.data import ReportRequest, load_report_data
from transforms.report.page import chart_spec

D, D2 = date(2024, 3, 1), date(2024, 3, 2)
E1 = datetime(2024, 3, 29, 8, tzinfo=UTC)
E2 = datetime(2024, 6, 28, 8, tzinfo=UTC)
PRICE = with_contract_columns(FCT_PRICE_1M.schema)
OPEN_INTEREST = with_contract_columns(FCT_OPEN_INTEREST.schema)
REQUEST = ReportRequest("binance_um", "BTCUSDT", D, D2)
CROSS_VENUE_APR = 0.12
UM_RATE, CM_RATE = 0.0001, 0.00005


def at(day: date, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def _row(schema: pa.Schema, **values: Any) -> dict[str, Any]:
    return {name: values.get(name) for name in schema.names}


def _without_contract(schema: pa.Schema) -> pa.Schema:
    """The layout before issue 16: no contract_type, no expiry."""
    for name in ("contract_type", "expiry"):
        if name in schema.names:
            schema = schema.remove(schema.get_field_index(name))
    return schema


def _write(
    lake: Path, table: str, schema: pa.Schema, rows: list[dict[str, Any]], day: date
) -> None:
    path = partition_dir(lake, table, day) / PARTITION_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


def bar(
    exchange: str,
    symbol: str,
    ts: datetime,
    close: float,
    volume: float | None,
    kind: str,
    index: float | None = None,
    expiry: datetime | None = None,
) -> dict[str, Any]:
    return _row(
        PRICE,
        exchange=exchange,
        symbol=symbol,
        ts=ts,
        close=close,
        volume_quote=volume,
        index_close=index,
        contract_type=kind,
        expiry=expiry,
        source_file="test",
    )


DAY_ONE_BARS = [
    # USDⓈ-M: the perpetual (its index is the fallback), two quarterlies
    bar("binance_um", "BTCUSDT", at(D, 0, 58), 60_050.0, 500.0, "perpetual", 60_000.0),
    bar("binance_um", "BTCUSDT", at(D, 0, 59), 60_060.0, 500.0, "perpetual", 60_010.0),
    bar("binance_um", "BTCUSDT", at(D, 1, 59), 60_150.0, 200.0, "perpetual", 60_100.0),
    bar("binance_um", "BTCUSDT_240329", at(D, 0, 30), 60_000.0, 100.0, "delivery", None, E1),
    bar("binance_um", "BTCUSDT_240329", at(D, 0, 58), 60_600.0, 100.0, "delivery", None, E1),
    bar("binance_um", "BTCUSDT_240329", at(D, 1, 59), 60_400.0, 100.0, "delivery", 60_100.0, E1),
    bar("binance_um", "BTCUSDT_240628", at(D, 0, 58), 61_200.0, 100.0, "delivery", None, E2),
    # COIN-M: the perpetual's index at 00:59, the quarterly without its own
    bar("binance_cm", "BTCUSD_PERP", at(D, 0, 59), 60_020.0, 600.0, "perpetual", 60_000.0),
    bar("binance_cm", "BTCUSD_240329", at(D, 0, 59), 60_480.0, 400.0, "delivery", None, E1),
    # spot
    bar("binance_spot", "BTCUSDT", at(D, 0, 0), 60_000.0, 100.0, "spot"),
    bar("binance_spot", "BTCUSDT", at(D, 1, 0), 60_100.0, 300.0, "spot"),
    # ether: a quarterly with no index anywhere; solana traded nothing; Hyperliquid's mid bars
    # carry no volume
    bar("binance_um", "ETHUSDT_240329", at(D, 0, 10), 3_500.0, 50.0, "delivery", None, E1),
    bar("binance_um", "SOLUSDT", at(D, 0, 0), 150.0, 0.0, "perpetual", 150.0),
    bar("hyperliquid", "BTC", at(D, 0, 0), 60_000.0, None, "perpetual", 60_000.0),
]
DAY_TWO_BARS = [
    # written before contract_type: spot by its exchange, the rest perpetual
    {"exchange": "binance_spot", "symbol": "BTCUSDT", "ts": at(D2, 5), "close": 61_000.0,
     "volume_quote": 100.0, "source_file": "test"},
    {"exchange": "binance_um", "symbol": "BTCUSDT", "ts": at(D2, 5), "close": 61_000.0,
     "volume_quote": 300.0, "source_file": "test"},
]  # fmt: skip


def write_facts(lake: Path) -> None:
    """The price, funding and cross-venue funding partitions the two models read."""
    _write(lake, FCT_PRICE_1M.name, PRICE, DAY_ONE_BARS, D)
    old = _without_contract(FCT_PRICE_1M.schema)
    _write(lake, FCT_PRICE_1M.name, old, [_row(old, **row) for row in DAY_TWO_BARS], D2)

    def settlement(exchange: str, symbol: str, when: datetime, rate: float) -> dict[str, Any]:
        return _row(FCT_FUNDING.schema, exchange=exchange, symbol=symbol, funding_time=when,
                    funding_rate=rate, funding_interval_hours=8, funding_rate_8h=rate,
                    funding_rate_apr=rate * 3 * 365, coin="BTC", source_file="test")  # fmt: skip

    prev = D - timedelta(days=1)
    _write(lake, FCT_FUNDING.name, FCT_FUNDING.schema,
           [settlement("binance_um", "BTCUSDT", at(prev, 16), 0.0003)], prev)  # fmt: skip
    _write(lake, FCT_FUNDING.name, FCT_FUNDING.schema, [
        settlement("binance_um", "BTCUSDT", at(D), UM_RATE),
        settlement("binance_cm", "BTCUSD_PERP", at(D), CM_RATE),
    ], D)  # fmt: skip
    cross = FCT_FUNDING_CROSS_VENUE.schema
    _write(lake, FCT_FUNDING_CROSS_VENUE.name, cross, [
        _row(cross, coin="BTC", ts=at(D, 0), venues="binance_cm,binance_um", venue_count=2,
             funding_rate_apr_oi_weighted=CROSS_VENUE_APR, funding_rate_8h_oi_weighted=0.0001),
        # hour 1: no open interest to weigh by, so no OI-weighted rate
        _row(cross, coin="BTC", ts=at(D, 1), venues="binance_cm,binance_um", venue_count=2,
             funding_rate_apr_mean=0.08),
    ], D)  # fmt: skip


def days_between(later: datetime, earlier: datetime) -> float:
    return (later - earlier) / timedelta(days=1)


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("basis") / "lake"
    write_facts(root)
    return root


# fct_basis_1h


def test_basis_and_its_apr_per_contract_hour(lake: Path) -> None:
    table = build_fact(FCT_BASIS_1H, D, lake)
    assert table.schema == FCT_BASIS_1H.schema
    rows = table.to_pylist()
    keys = [(r["exchange"], r["symbol"], r["ts"]) for r in rows]
    assert keys == [
        ("binance_cm", "BTCUSD_240329", at(D, 0)),
        ("binance_um", "BTCUSDT_240329", at(D, 0)),
        ("binance_um", "BTCUSDT_240329", at(D, 1)),
        ("binance_um", "BTCUSDT_240628", at(D, 0)),
        ("binance_um", "ETHUSDT_240329", at(D, 0)),
    ]
    cm, um_h0, um_h1, june, ether = rows

    # COIN-M's quarterly at 00:59 against BTCUSD_PERP's index that minute
    assert (cm["coin"], cm["expiry"]) == ("BTC", E1)
    assert (cm["close_ts"], cm["close"], cm["index_close"]) == (at(D, 0, 59), 60_480.0, 60_000.0)
    assert cm["index_source"] == "perpetual"
    assert cm["basis"] == pytest.approx(0.008)
    assert cm["days_to_expiry"] == pytest.approx(28 + 421 / 1440)
    assert cm["basis_apr"] == pytest.approx(0.008 * 365 / (28 + 421 / 1440))

    # the hour's last close (00:58, not 00:30), at BTCUSDT's index of 00:58 (not 00:59's)
    assert (um_h0["close_ts"], um_h0["close"], um_h0["index_close"]) == (
        at(D, 0, 58),
        60_600.0,
        60_000.0,
    )
    assert um_h0["basis"] == pytest.approx(0.01)
    assert um_h0["days_to_expiry"] == pytest.approx(28.293055555)  # 28 days 7 h 2 min
    assert um_h0["basis_apr"] == pytest.approx(0.1290069, rel=1e-6)  # 3.65 / 28.2931

    # the contract's own index wins where it has one
    assert (um_h1["index_close"], um_h1["index_source"]) == (60_100.0, "contract")
    assert um_h1["basis"] == pytest.approx(60_400.0 / 60_100.0 - 1)
    assert um_h1["days_to_expiry"] == pytest.approx(days_between(E1, at(D, 1, 59)))

    assert june["basis"] == pytest.approx(0.02)
    assert june["days_to_expiry"] == pytest.approx(119 + 422 / 1440)
    assert june["basis_apr"] == pytest.approx(0.02 * 365 / (119 + 422 / 1440))

    # no index at all: the close stays, the basis is unknown
    assert ether["close"] == 3_500.0
    assert (ether["index_close"], ether["index_source"]) == (None, None)
    assert (ether["basis"], ether["basis_apr"]) == (None, None)
    assert ether["days_to_expiry"] == pytest.approx(28 + 470 / 1440)


def test_funding_apr_beside_the_basis(lake: Path) -> None:
    rows = build_fact(FCT_BASIS_1H, D, lake).to_pylist()
    funding = [
        (r["symbol"], r["ts"].hour, r["funding_rate_apr"], r["funding_source"]) for r in rows
    ]
    assert funding == [
        # hour 0: bitcoin's OI-weighted APR across venues, for every bitcoin contract
        ("BTCUSD_240329", 0, pytest.approx(CROSS_VENUE_APR), "cross_venue_oi_weighted"),
        ("BTCUSDT_240329", 0, pytest.approx(CROSS_VENUE_APR), "cross_venue_oi_weighted"),
        # hour 1 has no weighted rate: BTCUSDT's latest settlement (00:00, not the day before's)
        ("BTCUSDT_240329", 1, pytest.approx(UM_RATE * 1095), "perpetual"),
        ("BTCUSDT_240628", 0, pytest.approx(CROSS_VENUE_APR), "cross_venue_oi_weighted"),
        ("ETHUSDT_240329", 0, None, None),
    ]


def test_the_term_structure_is_a_coin_hours_rows_by_expiry(lake: Path) -> None:
    table = build_fact(FCT_BASIS_1H, D, lake)
    with duckdb.connect() as connection:
        connection.register("fct_basis_1h", table)
        curve = connection.execute(
            "select exchange, symbol, round(basis, 6) from fct_basis_1h "
            "where coin = 'BTC' and ts = $1 order by expiry, exchange",
            [at(D, 0)],
        ).fetchall()
    assert curve == [
        ("binance_cm", "BTCUSD_240329", 0.008),
        ("binance_um", "BTCUSDT_240329", 0.01),
        ("binance_um", "BTCUSDT_240628", 0.02),
    ]


def test_a_day_without_delivery_contracts_has_no_basis(lake: Path) -> None:
    assert build_fact(FCT_BASIS_1H, D2, lake).num_rows == 0


def _outcomes(model: Any, table: pa.Table, lake: Path) -> dict[str, tuple[bool, int]]:
    return {o.name: (o.passed, o.violations) for o in run_fact_checks(model, table, D, lake)}


def _replace(table: pa.Table, row: int, **values: Any) -> pa.Table:
    rows = table.to_pylist()
    rows[row] = {**rows[row], **values}
    return pa.Table.from_pylist(rows, schema=table.schema)


def test_basis_checks_pass_on_the_built_day_and_fail_on_violations(lake: Path) -> None:
    table = build_fact(FCT_BASIS_1H, D, lake)
    assert _outcomes(FCT_BASIS_1H, table, lake) == {
        "unique_keys": (True, 0),
        "basis_consistent": (True, 0),
    }
    wrong_apr = _replace(table, 1, basis_apr=table["basis_apr"][1].as_py() * 2)
    assert _outcomes(FCT_BASIS_1H, wrong_apr, lake)["basis_consistent"] == (False, 1)
    # after expiry, even with the APR consistent with its days
    expired = _replace(
        table, 2, expiry=at(D, 1), days_to_expiry=-59 / 1440,
        basis_apr=table["basis"][2].as_py() * 365 / (-59 / 1440),
    )  # fmt: skip
    assert _outcomes(FCT_BASIS_1H, expired, lake)["basis_consistent"] == (False, 1)
    wrong_basis = _replace(table, 0, basis=0.009)
    assert _outcomes(FCT_BASIS_1H, wrong_basis, lake)["basis_consistent"] == (False, 1)
    no_expiry = _replace(table, 4, expiry=None, days_to_expiry=None)
    assert _outcomes(FCT_BASIS_1H, no_expiry, lake)["basis_consistent"] == (False, 1)
    repeated = pa.concat_tables([table, table.slice(0, 1)])
    assert _outcomes(FCT_BASIS_1H, repeated, lake)["unique_keys"] == (False, 1)


# fct_volume_shares_1d


def _shares(lake: Path, day: date) -> dict[tuple[str, str], dict[str, Any]]:
    table = build_fact(FCT_VOLUME_SHARES_1D, day, lake)
    assert table.schema == FCT_VOLUME_SHARES_1D.schema
    return {(r["coin"], r["venue"]): r for r in table.to_pylist()}


def test_volume_by_kind_and_shares_per_venue_and_over_all(lake: Path) -> None:
    rows = _shares(lake, D)
    assert list(rows) == [
        ("BTC", "all"),
        ("BTC", "binance_cm"),
        ("BTC", "binance_spot"),
        ("BTC", "binance_um"),
        ("ETH", "all"),
        ("ETH", "binance_um"),
        ("SOL", "all"),
        ("SOL", "binance_um"),
    ]
    assert all(r["ts"] == at(D) for r in rows.values())

    def volumes(key: tuple[str, str]) -> tuple[float, ...]:
        r = rows[key]
        return tuple(
            r[c]
            for c in ("spot_volume_usd", "perpetual_volume_usd", "delivery_volume_usd",
                      "total_volume_usd")
        )  # fmt: skip

    def shares(key: tuple[str, str]) -> tuple[float | None, ...]:
        return tuple(rows[key][f"{kind}_share"] for kind in ("spot", "perpetual", "delivery"))

    # bitcoin: spot 100 + 300; perpetuals 1,200 (USDⓈ-M) + 600 (COIN-M); delivery
    # 300 + 100 (USDⓈ-M) + 400 (COIN-M); Hyperliquid's bars carry no volume and stay out
    assert volumes(("BTC", "all")) == (400.0, 1_800.0, 800.0, 3_000.0)
    assert shares(("BTC", "all")) == pytest.approx((400 / 3000, 0.6, 800 / 3000))
    assert (rows[("BTC", "all")]["venues"], rows[("BTC", "all")]["venue_count"]) == (
        "binance_cm,binance_spot,binance_um",
        3,
    )
    assert rows[("BTC", "all")]["instrument_count"] == 6
    assert volumes(("BTC", "binance_um")) == (0.0, 1_200.0, 400.0, 1_600.0)
    assert shares(("BTC", "binance_um")) == pytest.approx((0.0, 0.75, 0.25))
    assert volumes(("BTC", "binance_cm")) == (0.0, 600.0, 400.0, 1_000.0)
    assert shares(("BTC", "binance_spot")) == pytest.approx((1.0, 0.0, 0.0))
    assert shares(("ETH", "all")) == pytest.approx((0.0, 0.0, 1.0))
    # solana traded nothing: no share to tell
    assert volumes(("SOL", "all")) == (0.0, 0.0, 0.0, 0.0)
    assert shares(("SOL", "all")) == (None, None, None)


def test_a_day_written_before_contract_type_reads_spot_and_perpetual(lake: Path) -> None:
    rows = _shares(lake, D2)
    assert list(rows) == [("BTC", "all"), ("BTC", "binance_spot"), ("BTC", "binance_um")]
    everything = rows[("BTC", "all")]
    assert (everything["spot_volume_usd"], everything["perpetual_volume_usd"]) == (100.0, 300.0)
    assert everything["delivery_volume_usd"] == 0.0
    assert everything["perpetual_share"] == pytest.approx(0.75)


def test_volume_checks_pass_on_the_built_day_and_fail_on_violations(lake: Path) -> None:
    table = build_fact(FCT_VOLUME_SHARES_1D, D, lake)
    assert _outcomes(FCT_VOLUME_SHARES_1D, table, lake) == {
        "unique_keys": (True, 0),
        "shares_add_up": (True, 0),
        "venues_counted": (True, 0),
    }
    off = _replace(table, 0, spot_share=0.2)  # no longer sums to 1
    assert _outcomes(FCT_VOLUME_SHARES_1D, off, lake)["shares_add_up"] == (False, 1)
    total = _replace(table, 1, total_volume_usd=999.0, spot_share=0.0, perpetual_share=600 / 999,
                     delivery_share=399 / 999)  # fmt: skip
    assert _outcomes(FCT_VOLUME_SHARES_1D, total, lake)["shares_add_up"] == (False, 1)
    zero = _replace(table, 6, spot_share=0.0)  # SOL's total is 0: shares must be null
    assert _outcomes(FCT_VOLUME_SHARES_1D, zero, lake)["shares_add_up"] == (False, 1)
    counted = _replace(table, 0, venue_count=2)
    assert _outcomes(FCT_VOLUME_SHARES_1D, counted, lake)["venues_counted"] == (False, 1)
    repeated = pa.concat_tables([table, table.slice(3, 1)])
    assert _outcomes(FCT_VOLUME_SHARES_1D, repeated, lake)["unique_keys"] == (False, 1)


def test_the_benchmark_query_gives_perps_share_of_bitcoin_volume(lake: Path) -> None:
    query = Path(__file__).parent.parent / "benchmarks" / "queries" / "perps_share_of_volume.sql"
    shares = pa.concat_tables([build_fact(FCT_VOLUME_SHARES_1D, day, lake) for day in (D, D2)])
    with duckdb.connect() as connection:
        connection.register("fct_volume_shares_1d", shares)
        result = connection.sql(query.read_text()).fetchall()
    # March: (1,800 + 300) perpetual of (3,000 + 400) in all
    assert result == [(date(2024, 3, 1), pytest.approx(2_100 / 3_400), pytest.approx(3_400.0),
                       pytest.approx(2_100.0), 2)]  # fmt: skip


# The report


def _oi(
    symbol: str,
    exchange: str,
    ts: datetime,
    usd: float,
    kind: str | None,
    expiry: datetime | None = None,
    coin: str = "BTC",
) -> dict[str, Any]:
    return _row(
        OPEN_INTEREST,
        exchange=exchange,
        symbol=symbol,
        ts=ts,
        oi_base=usd / 60_000.0,
        oi_usd=usd,
        coin=coin,
        contract_type=kind,
        expiry=expiry,
        source_file="test",
    )


def perpetual_oi(hour: int, minute: int) -> float:
    return 1e9 + 1e6 * hour + minute


def delivery_oi(day: date) -> float:
    """USDⓈ-M's quarterly, plus COIN-M's on the second day."""
    return 2e8 if day == D else 3e8


def write_report_lake(lake: Path, *, delivery: bool) -> None:
    write_facts(lake)
    for day in (D, D2):
        rows = [
            _oi("BTCUSDT", "binance_um", at(day, hour, minute), perpetual_oi(hour, minute),
                "perpetual")
            for hour in range(24)
            for minute in (0, 55)
        ] + [
            _oi("ETHUSDT", "binance_um", at(day, hour, 55), 5e9, "perpetual", coin="ETH")
            for hour in range(24)
        ]  # fmt: skip
        if delivery:
            rows += [
                _oi("BTCUSDT_240329", "binance_um", at(day, hour, 55), 2e8, "delivery", E1)
                for hour in range(24)
            ] + [
                _oi("BTCUSD_240329", "binance_cm", at(day, hour, 50), 1e8, "delivery", E1)
                for hour in range(24)
                if day == D2
            ]
            _write(lake, FCT_OPEN_INTEREST.name, OPEN_INTEREST, rows, day)
            publish_partition(
                build_fact(FCT_VOLUME_SHARES_1D, day, lake), lake, FCT_VOLUME_SHARES_1D.name, day
            )
        else:
            old = _without_contract(OPEN_INTEREST)
            _write(lake, FCT_OPEN_INTEREST.name, old, [_row(old, **r) for r in rows], day)


@dataclass(frozen=True)
class Lakes:
    delivery: Path
    perpetual: Path


@pytest.fixture(scope="module")
def lakes(tmp_path_factory: pytest.TempPathFactory) -> Lakes:
    root = tmp_path_factory.mktemp("basis_report")
    write_report_lake(root / "delivery", delivery=True)
    write_report_lake(root / "perpetual", delivery=False)
    return Lakes(root / "delivery", root / "perpetual")


def _subtitle(spec: dict[str, Any]) -> list[str]:
    subtitle = spec["title"]["subtitle"]
    return [subtitle] if isinstance(subtitle, str) else list(subtitle)


def test_open_interest_by_contract_type_sums_each_instruments_last_reading(lakes: Lakes) -> None:
    frame = load_report_data(lakes.delivery, REQUEST).open_interest_by_type
    assert frame.height == 2 * 48
    first = frame.filter(frame["hour"] == "2024-03-01T05:00:00Z").to_dicts()
    assert [(r["contract_type"], r["oi_usd"], r["instruments"]) for r in first] == [
        ("perpetual", perpetual_oi(5, 55), 1),
        ("delivery", 2e8, 1),
    ]
    last = frame.filter(frame["hour"] == "2024-03-02T23:00:00Z").to_dicts()
    assert [(r["contract_type"], r["oi_usd"], r["symbols"]) for r in last] == [
        ("perpetual", perpetual_oi(23, 55), "binance_um:BTCUSDT"),
        ("delivery", 3e8, "binance_cm:BTCUSD_240329,binance_um:BTCUSDT_240329"),
    ]


def test_the_volume_shares_of_the_report_are_the_coins_over_all_venues(lakes: Lakes) -> None:
    data = load_report_data(lakes.delivery, REQUEST)
    frame = data.volume_shares
    assert frame["day"].to_list() == ["2024-03-01", "2024-03-02"]
    assert frame["perpetual_share"].to_list() == pytest.approx([0.6, 0.75])
    assert frame["delivery_share"].to_list() == pytest.approx([800 / 3000, 0.0])
    assert has_delivery_volume(data)


def test_the_report_stacks_delivery_open_interest_and_draws_volume_shares(
    lakes: Lakes, tmp_path: Path
) -> None:
    report = build_report(lakes.delivery, REQUEST, tmp_path)
    keys = [chart.key for chart in report.charts]
    assert keys[keys.index("open_interest") + 1] == "volume_shares"
    charts = {chart.key: chart for chart in report.charts}

    panels = chart_spec(charts["open_interest"])["vconcat"]
    assert len(panels) == 3
    stacked = panels[2]
    assert stacked["title"]["text"] == (
        "All BTC venues, USD: perpetual and delivery contracts stacked"
    )
    assert _subtitle(stacked) == [
        "Each instrument's last reading of the hour, summed by kind; delivery contracts held "
        "$300.0M, 22.7% of the total, at 2024-03-02 23:00 UTC."
    ]
    assert 3e8 / (3e8 + perpetual_oi(23, 55)) == pytest.approx(0.227, abs=5e-4)

    volume = charts["volume_shares"]
    assert volume.points == 2
    spec = chart_spec(volume)
    assert spec["title"]["text"] == (
        "Volume shares, BTC: spot, perpetual and delivery futures, daily"
    )
    assert _subtitle(spec) == [
        "Over the range, of $3.4k traded: spot 14.7% ($500), perpetual 61.8% ($2.1k), "
        "delivery 23.5% ($800).",
        "Summed over binance_cm, binance_spot, binance_um: each day's volume in USD "
        "(volume_quote) by kind.",
    ]
    bars = spec["datasets"][spec["data"]["name"]]
    drawn = {(r["day"], r["kind"]): (r["share"], r["volume_usd"]) for r in bars}
    assert drawn[("2024-03-01", "perpetual")] == pytest.approx((0.6, 1_800.0))
    assert drawn[("2024-03-01", "delivery")] == pytest.approx((800 / 3000, 800.0))
    assert drawn[("2024-03-02", "spot")] == pytest.approx((0.25, 100.0))
    assert len(drawn) == 6

    for key in ("open_interest", "volume_shares"):
        assert report.files.pngs[key].stat().st_size > 20_000, f"{key}.png draws a chart"
    html = report.files.html.read_text()
    assert 'id="chart-volume_shares"' in html
    assert "Spot, perpetual and delivery volume shares" in html


def test_a_lake_without_delivery_contracts_leaves_both_out(lakes: Lakes, tmp_path: Path) -> None:
    report = build_report(lakes.perpetual, REQUEST, tmp_path)
    assert report.data.volume_shares.is_empty()
    assert set(report.data.open_interest_by_type["contract_type"]) == {"perpetual"}
    assert "volume_shares" not in [chart.key for chart in report.charts]
    panels = chart_spec(next(c for c in report.charts if c.key == "open_interest"))["vconcat"]
    assert len(panels) == 2
    assert 'id="chart-volume_shares"' not in report.files.html.read_text()
    # Drawn anyway (by a caller of the chart alone), it says why it is empty.
    alone = volume_share_chart(report.data)
    assert alone.points == 0
    assert _subtitle(chart_spec(alone)) == ["No volume of BTC in the range (fct_volume_shares_1d)."]
