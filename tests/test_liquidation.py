"""Exact Binance liquidation prices and the estimated liquidation heatmap.

Expected values are written literally with their arithmetic in a comment: the §1.4 table of
``reference/DOMAIN.md``, bracket cases computed by hand from the bracket table, and a hand-made
sequence of bars walked through the §1.5 loop (consume, add, remove) level by level.
"""

import json
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from transforms.liquidation.assumptions import HeatmapConfig, LeverageTier
from transforms.liquidation.book import Bars, LevelBook, advance
from transforms.liquidation.prices import (
    BRACKETS_PATH,
    FloatArray,
    Side,
    bracket_for,
    liquidation_price,
    liquidation_prices,
    load_bracket_snapshot,
    load_brackets,
    naive_liquidation_price,
)
from transforms.liquidation.zones import HEATMAP_SCHEMA, HOT_ZONES_SCHEMA, heatmap, hot_zones


@pytest.mark.parametrize(
    ("leverage", "long", "short", "naive_long", "naive_short"),
    [
        # Tier 1 (MMR 0.4%, cum 0): long (1 − 1/L)/0.996, short (1 + 1/L)/1.004.
        (10, 0.90361, 1.09562, 0.90000, 1.10000),
        (25, 0.96386, 1.03586, 0.96000, 1.04000),
        (50, 0.98394, 1.01594, 0.98000, 1.02000),
        (100, 0.99398, 1.00598, 0.99000, 1.01000),
        (125, 0.99598, 1.00398, 0.99200, 1.00800),
    ],
)
def test_tier_1_matches_the_domain_table(
    leverage: float, long: float, short: float, naive_long: float, naive_short: float
) -> None:
    assert round(liquidation_price(1.0, leverage, "long"), 5) == long
    assert round(liquidation_price(1.0, leverage, "short"), 5) == short
    assert round(naive_liquidation_price(1.0, leverage, "long"), 5) == naive_long
    assert round(naive_liquidation_price(1.0, leverage, "short"), 5) == naive_short


def test_exact_level_at_100x_is_forty_percent_closer_than_naive() -> None:
    exact = 1.0 - liquidation_price(60_000.0, 100, "long") / 60_000.0
    naive = 1.0 - naive_liquidation_price(60_000.0, 100, "long") / 60_000.0
    # 1 − 0.99/0.996 = 0.006024…, against 0.01.
    assert exact == pytest.approx(0.00602409639, rel=1e-9)
    assert naive == pytest.approx(0.01)


def test_tier_4_position_uses_mmr_1pct_and_cum_11450() -> None:
    # N = 5M USDT (tier 4: MMR 1%, cum 11,450) at 20x, entry 60,000; cum/N = 0.00229.
    # long: 60,000 × (1 − 0.05 − 0.00229)/0.99 = 60,000 × 0.94771/0.99 = 57,436.969697
    #   (notional at LP 4.79M, still tier 4).
    # short: 60,000 × (1 + 0.05 + 0.00229)/1.01 = 60,000 × 1.05229/1.01 = 62,512.277228
    #   (notional at LP 5.21M, still tier 4).
    assert bracket_for(5_000_000.0).tier == 4
    assert liquidation_price(60_000.0, 20, "long", 5_000_000.0) == pytest.approx(
        57_436.969697, rel=1e-10
    )
    assert liquidation_price(60_000.0, 20, "short", 5_000_000.0) == pytest.approx(
        62_512.277228, rel=1e-10
    )


def test_long_recomputed_with_the_bracket_of_the_notional_at_lp() -> None:
    # N = 620k is tier 3 (MMR 0.65%, cum 950): (0.9 − 950/620,000)/0.9935 = 0.9043460,
    # but the notional there, 620k × 0.9043460 = 560.7k, is tier 2 (MMR 0.5%, cum 50):
    # (0.9 − 50/620,000)/0.995 = 0.9044415627, notional 560.75k, tier 2: consistent.
    assert bracket_for(620_000.0).tier == 3
    price = liquidation_price(1.0, 10, "long", 620_000.0)
    assert price == pytest.approx(0.9044415627, rel=1e-9)
    assert bracket_for(620_000.0 * price).tier == 2


def test_short_recomputed_with_the_bracket_of_the_notional_at_lp() -> None:
    # N = 590k is tier 2: (1.1 + 50/590,000)/1.005 = 1.0946117, notional 645.8k → tier 3:
    # (1.1 + 950/590,000)/1.0065 = 1.0944959458, notional 645.75k, tier 3: consistent.
    price = liquidation_price(1.0, 10, "short", 590_000.0)
    assert price == pytest.approx(1.0944959458, rel=1e-9)
    assert bracket_for(590_000.0 * price).tier == 3


@pytest.mark.parametrize("side", ["long", "short"])
def test_margin_equals_maintenance_margin_at_the_liquidation_price(side: Side) -> None:
    # The defining equation of §1.4 in isolated mode: WB + side·Q·(LP − EP) = N_LP·MMR − cum,
    # with the bracket of the notional at LP, over notionals crossing every bracket edge.
    sign = 1.0 if side == "long" else -1.0
    # Up to 200M: a 1x short of more would be liquidated beyond the snapshot's last bracket.
    for notional in np.geomspace(1_000.0, 200_000_000.0, 300):
        bracket = bracket_for(notional)
        for leverage in (1.0, 2.0, 5.0, bracket.max_leverage):
            entry = 3_000.0
            price = liquidation_price(entry, leverage, side, notional)
            quantity = notional / entry
            margin = notional / leverage + sign * quantity * (price - entry)
            maintenance = bracket_for(quantity * price).maintenance_margin(quantity * price)
            if price > 0:
                assert margin == pytest.approx(maintenance, rel=1e-9, abs=1e-6)
            else:
                assert margin >= maintenance - 1e-6


def test_vectorised_matches_scalar() -> None:
    entries = np.array([100.0, 2_500.0, 61_000.0])
    notionals = np.array([10_000.0, 620_000.0, 5_000_000.0])
    for side in ("long", "short"):
        vector = liquidation_prices(entries, 10.0, side, notionals)
        scalar = [
            liquidation_price(e, 10.0, side, n) for e, n in zip(entries, notionals, strict=True)
        ]
        assert vector.tolist() == scalar


def test_one_x_long_cannot_be_liquidated() -> None:
    assert liquidation_price(100.0, 1, "long") == 0.0
    assert liquidation_price(100.0, 1, "long", 5_000_000.0) == 0.0


def test_leverage_above_the_bracket_maximum_is_rejected() -> None:
    with pytest.raises(ValueError, match="maximum"):
        liquidation_price(100.0, 100, "long", 700_000.0)  # tier 3 caps at 75x


def test_short_liquidated_beyond_the_snapshot_is_rejected() -> None:
    # 400M at 1x: (1 + 1 + 14,481,450/400M)/1.1 = 1.85 → 740M, above the 480M of tier 8.
    with pytest.raises(ValueError, match="outside the bracket snapshot"):
        liquidation_price(100.0, 1, "short", 400_000_000.0)


def test_bracket_edges_floor_inclusive_cap_exclusive() -> None:
    assert bracket_for(49_999.99).tier == 1
    assert bracket_for(50_000.0).tier == 2
    assert bracket_for(479_999_999.0).tier == 8
    with pytest.raises(ValueError, match="outside the bracket snapshot"):
        bracket_for(480_000_000.0)


def test_snapshot_loads_and_names_its_source() -> None:
    snapshot = load_bracket_snapshot()
    assert "freqtrade" in snapshot.source
    assert "binance_leverage_tiers.json" in snapshot.source
    assert "3d9514d" in snapshot.source
    assert snapshot.snapshot_date.isoformat() == "2024-10-24"
    assert "ETHUSDT" in snapshot.note
    assert "every symbol" in snapshot.note
    assert [b.tier for b in snapshot.brackets] == list(range(1, 9))
    assert [b.mmr for b in load_brackets()] == [
        0.004, 0.005, 0.0065, 0.01, 0.02, 0.025, 0.05, 0.1
    ]  # fmt: skip
    assert [b.cum for b in load_brackets()] == [
        0, 50, 950, 11_450, 131_450, 481_450, 2_981_450, 14_481_450
    ]  # fmt: skip
    assert [b.max_leverage for b in load_brackets()] == [125, 100, 75, 50, 25, 20, 10, 5]
    assert BRACKETS_PATH.name == "binance_um_leverage_brackets_2024-10-24.json"


def test_snapshot_with_a_broken_cum_is_rejected(tmp_path: Path) -> None:
    raw = json.loads(BRACKETS_PATH.read_text(encoding="utf-8"))
    raw["brackets"][3]["cum"] = 11_000
    path = tmp_path / "brackets.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(ValueError, match="tier 4 cum"):
        load_bracket_snapshot(path)


EXACT = HeatmapConfig(
    tiers=(LeverageTier(10.0, 0.5), LeverageTier(100.0, 0.5)),
    merge_tolerance=0.0,
    min_level_usd=0.0,
)
"""Two tiers, exact prices kept: every level of the hand-made sequence is traceable."""

Row = tuple[float, float, float, float, float]
"""(high, low, close, ΔOI base, taker-buy share) of one bar."""
Level = tuple[Side, float, float]

T0 = np.datetime64("2024-01-02T00:00", "us")
FIVE_MINUTES = np.timedelta64(5, "m")


SEQUENCE_OI = 5.0
"""Open interest (base) before the hand-made sequence: 20 after its bar 1, 18 after bar 3."""


def oi_path(rows: list[Row], oi_before: float) -> FloatArray:
    """The open interest after each bar: ``oi_before`` plus the running sum of ΔOI (NaN as 0)."""
    delta = np.nan_to_num(np.array([row[3] for row in rows], dtype=np.float64), nan=0.0)
    path: FloatArray = np.cumsum(np.concatenate([[oi_before], delta]))[1:]
    return path


def make_bars(rows: list[Row], first: int = 0, oi_before: float = SEQUENCE_OI) -> Bars:
    """Bars from (high, low, close, ΔOI base, taker-buy share) rows, five minutes apart.

    The open interest each bar reaches follows from ``oi_before`` (the OI before the first row)
    and the rows' ΔOI, as ``heatmap_bars`` derives ΔOI from the OI readings.
    """
    high, low, close, delta, share = np.array(rows, dtype=np.float64).reshape(-1, 5).T
    ts = T0 + (first + np.arange(len(rows))) * FIVE_MINUTES
    return Bars(ts, high, low, close, oi_path(rows, oi_before), delta, share)


SEQUENCE = [
    # Bar 0: +10 base at 100 = 1,000 USD; 60% longs → 300 per long tier, 200 per short tier.
    # Its own range (low 99.0, high 100.7) reaches its 100x levels but never consumes them.
    (100.7, 99.0, 100.0, 10.0, 0.6),
    # Bar 1: high 101 consumes bar 0's short 100x at 100.598; +5 at 101 = 505 USD, 126.25 each.
    (101.0, 99.6, 101.0, 5.0, 0.5),
    # Bar 2: low 99.3 consumes the long 100x levels at 99.398 (bar 0) and 100.392 (bar 1).
    (101.2, 99.3, 99.5, 0.0, 0.5),
    # Bar 3: OI 20 → 18 base, 10% of it closed: every level × 0.9 (878.75 → 790.875 USD).
    (100.0, 99.4, 99.8, -2.0, 0.5),
]


def levels(book: LevelBook) -> list[tuple[str, float, float]]:
    return [
        ("long" if long else "short", float(price), float(usd))
        for long, price, usd in zip(book.is_long, book.price, book.notional_usd, strict=True)
    ]


def assert_levels(book: LevelBook, expected: list[tuple[str, float, float]]) -> None:
    actual = levels(book)
    assert [side for side, _, _ in actual] == [side for side, _, _ in expected]
    for (_, price, usd), (_, want_price, want_usd) in zip(actual, expected, strict=True):
        assert price == pytest.approx(want_price, rel=1e-10)
        assert usd == pytest.approx(want_usd, rel=1e-10)


def test_levels_added_at_exact_prices_and_not_consumed_by_their_own_bar() -> None:
    book = advance(LevelBook.empty(), make_bars(SEQUENCE[:1]), EXACT)
    assert_levels(
        book,
        [
            ("long", 90.361445783, 300.0),  # 100 × 0.9/0.996
            ("long", 99.397590361, 300.0),  # 100 × 0.99/0.996
            ("short", 100.597609562, 200.0),  # 100 × 1.01/1.004
            ("short", 109.561752988, 200.0),  # 100 × 1.1/1.004
        ],
    )
    assert book.price.tolist() == sorted(
        [
            liquidation_price(100.0, 10, "long"),
            liquidation_price(100.0, 100, "long"),
            liquidation_price(100.0, 100, "short"),
            liquidation_price(100.0, 10, "short"),
        ]
    )


def test_short_level_consumed_when_a_later_high_crosses_it() -> None:
    day = advance(LevelBook.empty(), make_bars(SEQUENCE[:2]), EXACT)
    assert_levels(
        day,
        [
            ("long", 90.361445783, 300.0),
            ("long", 91.265060241, 126.25),  # 101 × 0.9/0.996
            ("long", 99.397590361, 300.0),
            ("long", 100.391566265, 126.25),  # 101 × 0.99/0.996
            ("short", 101.603585657, 126.25),  # 101 × 1.01/1.004
            ("short", 109.561752988, 200.0),
            ("short", 110.657370518, 126.25),  # 101 × 1.1/1.004
        ],
    )
    assert day.total_usd == pytest.approx(1_305.0)  # 1,000 − 200 + 505


def test_long_levels_consumed_when_a_later_low_crosses_them() -> None:
    day = advance(LevelBook.empty(), make_bars(SEQUENCE[:3]), EXACT)
    assert [p for side, p, _ in levels(day) if side == "long"] == pytest.approx(
        [90.361445783, 91.265060241], rel=1e-10
    )
    assert day.total_usd == pytest.approx(878.75)  # 1,305 − 300 − 126.25


def full_sequence() -> LevelBook:
    return advance(LevelBook.empty(), make_bars(SEQUENCE), EXACT)


def test_falling_oi_removes_its_fraction_from_all_levels() -> None:
    # OI 20 → 18: 10% closed, every level keeps 0.9 (the fall's 199.6 USD is not what counts).
    assert_levels(
        full_sequence(),
        [
            ("long", 90.361445783, 270.0),  # 300 × 0.9
            ("long", 91.265060241, 113.625),  # 126.25 × 0.9
            ("short", 101.603585657, 113.625),
            ("short", 109.561752988, 180.0),  # 200 × 0.9
            ("short", 110.657370518, 113.625),
        ],
    )
    assert full_sequence().total_usd == pytest.approx(790.875)  # 878.75 × 0.9


def test_state_carried_across_days_equals_one_pass() -> None:
    first = advance(LevelBook.empty(), make_bars(SEQUENCE[:2]), EXACT)
    carried = LevelBook.from_arrow(first.to_arrow())
    second = advance(carried, make_bars(SEQUENCE[2:], first=2, oi_before=20.0), EXACT)
    assert_levels(second, levels(full_sequence()))


BOOK = LevelBook(
    np.array([True, True, False]),
    np.array([90.0, 95.0, 110.0]),  # out of reach of the bars below (99.5–100.5)
    np.array([500.0, 300.0, 200.0]),  # 1,000 USD: a sliver of a 100M USD market
)
"""A carried book much smaller than the market, as every real book is."""


def test_a_twenty_percent_fall_in_oi_removes_twenty_percent_of_the_book() -> None:
    # OI 1,000,000 → 800,000 base at 100: the fall is 20M USD, 20,000 times the book, and
    # would empty it if taken in USD; it closed 20% of OI, so 20% of the book goes.
    bars = make_bars([(100.5, 99.5, 100.0, -200_000.0, 0.5)], oi_before=1_000_000.0)
    book = advance(BOOK, bars, EXACT)
    assert book.total_usd == pytest.approx(800.0)
    assert_levels(book, [("long", 90.0, 400.0), ("long", 95.0, 240.0), ("short", 110.0, 160.0)])


def test_a_flush_leaves_the_share_of_oi_that_stayed_open() -> None:
    # A flush over three bars: OI 1,000 → 900 → 750 → 600 base (−10%, −16.7%, −20%): 40% of
    # OI closed, 60% of the book stays, spread as before.
    bars = make_bars(
        [
            (100.5, 99.5, 100.0, -100.0, 0.5),
            (100.5, 99.5, 100.0, -150.0, 0.5),
            (100.5, 99.5, 100.0, -150.0, 0.5),
        ],
        oi_before=1_000.0,
    )
    book = advance(BOOK, bars, EXACT)
    assert book.total_usd == pytest.approx(600.0)
    assert_levels(book, [("long", 90.0, 300.0), ("long", 95.0, 180.0), ("short", 110.0, 120.0)])


@pytest.mark.parametrize("fall", [-5.0, -7.0])
def test_oi_falling_to_zero_empties_the_book_and_later_levels_start_fresh(fall: float) -> None:
    bars = make_bars(
        [
            (100.5, 99.5, 100.0, 1.0, 0.5),  # OI 4 → 5: +100 USD
            (100.5, 99.5, 100.0, fall, 0.5),  # OI 5 → 0 (or below, inconsistent): all closed
            (100.5, 99.5, 100.0, 2.0, 1.0),  # +200 USD, all longs: 100 per tier
        ],
        oi_before=4.0,
    )
    assert_levels(
        advance(BOOK, bars, EXACT),
        [("long", 90.361445783, 100.0), ("long", 99.397590361, 100.0)],
    )


def test_a_fall_without_a_positive_oi_before_removes_nothing_and_a_close_is_not_needed() -> None:
    nan = math.nan
    ts = T0 + np.arange(4) * FIVE_MINUTES
    bars = Bars(
        ts,
        high=np.full(4, 100.5),
        low=np.full(4, 99.5),
        close=np.array([100.0, 100.0, 100.0, nan]),
        # Bar 0: no OI reading; bar 1: OI before is −1 + 1 = 0; bar 2: before is −3 + 2 = −1
        # (inconsistent data): nothing to measure the fall against, nothing removed. Bar 3:
        # OI 100 → 50 without a close: half the book goes, the fraction needs no price.
        oi_base=np.array([nan, -1.0, -3.0, 50.0]),
        delta_oi_base=np.array([-1.0, -1.0, -2.0, -50.0]),
        taker_buy_share=np.full(4, 0.5),
    )
    assert_levels(
        advance(BOOK, bars, EXACT),
        [("long", 90.0, 250.0), ("long", 95.0, 150.0), ("short", 110.0, 100.0)],
    )


def test_missing_values_cross_nothing_and_place_nothing() -> None:
    nan = math.nan
    bars = make_bars(
        [
            (100.5, 99.5, 100.0, 10.0, nan),  # no share: 50/50 → 250 per tier and side
            (nan, nan, nan, 4.0, 0.5),  # nothing known: no crossing, no placement
            (nan, 50.0, 100.0, nan, 0.5),  # low crosses both longs; the high is unknown
        ]
    )
    assert_levels(
        advance(LevelBook.empty(), bars, EXACT),
        [("short", 100.597609562, 250.0), ("short", 109.561752988, 250.0)],
    )


def test_heatmap_bins_relative_to_the_close_and_sum_to_the_book() -> None:
    book = full_sequence()
    table = heatmap(book, 99.8, EXACT)
    assert table.schema == HEATMAP_SCHEMA
    # Bin k = floor((price/99.8 − 1)/0.0025) spans 99.8 × (1 + k·0.0025) upwards, 0.2495 wide.
    assert table.column("bin").to_pylist() == [-38, -35, 7, 39, 43]
    assert table.column("side").to_pylist() == ["long", "long", "short", "short", "short"]
    assert table.column("price_low").to_pylist() == pytest.approx(
        [90.319, 91.0675, 101.5465, 109.5305, 110.5285]  # 99.8 × 0.905, 0.9125, 1.0175, …
    )
    assert table.column("price_high").to_pylist() == pytest.approx(
        [90.5685, 91.317, 101.796, 109.78, 110.778]
    )
    assert sum(table.column("est_notional_usd").to_pylist()) == pytest.approx(book.total_usd)
    assert sum(table.column("share").to_pylist()) == pytest.approx(1.0)
    assert set(table.column("method").to_pylist()) == {EXACT.method}
    assert EXACT.method.startswith("estimate:")

    # The same book against another close: the bins move with it.
    shifted = heatmap(book, 100.0, EXACT)
    assert shifted.column("price_low").to_pylist()[0] == pytest.approx(90.25)  # 100 × 0.9025
    assert shifted.column("bin").to_pylist()[0] == -39  # 90.3614/100 − 1 = −0.0964 → −38.6


def test_heatmap_sums_both_sides_and_levels_sharing_a_bin() -> None:
    book = LevelBook(
        np.array([True, True, False]),
        np.array([99.90, 99.80, 99.85]),  # all in bin −1 of close 100: [99.75, 100)
        np.array([10.0, 5.0, 1.0]),
    )
    table = heatmap(book, 100.0, EXACT)
    assert table.select(["bin", "side", "est_notional_usd"]).to_pylist() == [
        {"bin": -1, "side": "long", "est_notional_usd": 15.0},
        {"bin": -1, "side": "short", "est_notional_usd": 1.0},
    ]


def test_hot_zones_pick_the_largest_cluster_below_and_above() -> None:
    table = hot_zones(full_sequence(), 99.8, EXACT)
    assert table.schema == HOT_ZONES_SCHEMA
    assert table.drop_columns(["method"]).to_pylist() == [
        {
            "position": "below",
            "rank": 1,
            "price_low": pytest.approx(90.319),
            "price_high": pytest.approx(90.5685),
            "distance_pct": pytest.approx(-9.375),  # (−38 + 0.5) × 0.25%
            "est_notional_usd": pytest.approx(270.0),
            "share": pytest.approx(270.0 / 790.875),
        },
        {
            "position": "above",
            "rank": 1,
            "price_low": pytest.approx(109.5305),
            "price_high": pytest.approx(109.78),
            "distance_pct": pytest.approx(9.875),  # (39 + 0.5) × 0.25%
            "est_notional_usd": pytest.approx(180.0),
            "share": pytest.approx(180.0 / 790.875),
        },
    ]


def test_hot_zone_ties_go_to_the_bin_nearer_the_close() -> None:
    # Above the close, bins 7 and 43 both hold 113.625 USD: rank 2 is bin 7 (1.875% away).
    above = hot_zones(full_sequence(), 99.8, EXACT, top_n=3).filter(
        pa.compute.equal(pa.compute.field("position"), "above")
    )
    assert above.column("distance_pct").to_pylist() == pytest.approx([9.875, 1.875, 10.875])
    assert above.column("rank").to_pylist() == [1, 2, 3]


def test_empty_book_gives_empty_tables() -> None:
    assert heatmap(LevelBook.empty(), 100.0, EXACT).num_rows == 0
    assert hot_zones(LevelBook.empty(), 100.0, EXACT).num_rows == 0


def test_merging_keeps_the_notional_weighted_price() -> None:
    merging = replace(EXACT, merge_tolerance=0.001, min_level_usd=5.0)
    book = LevelBook(
        np.array([True, True, True, False]),
        np.array([90.00, 90.05, 80.0, 90.02]),  # 90.00/90.05 within 0.1%: one level
        np.array([30.0, 10.0, 4.0, 7.0]),  # the 4 USD level is pruned
    )
    merged = advance(book, make_bars([]), merging)
    assert_levels(
        merged,
        [("long", 90.0125, 40.0), ("short", 90.02, 7.0)],  # (30 × 90 + 10 × 90.05)/40
    )


def test_config_rejects_unplaceable_assumptions() -> None:
    with pytest.raises(ValueError, match="sum to 1"):
        HeatmapConfig(tiers=(LeverageTier(10.0, 0.5),))
    with pytest.raises(ValueError, match="bracket 3 caps at 75x"):
        HeatmapConfig(tiers=(LeverageTier(100.0, 1.0, position_notional_usd=1_000_000.0),))


def test_default_config_uses_the_coinglass_tiers() -> None:
    config = HeatmapConfig()
    assert [t.leverage for t in config.tiers] == [10, 25, 50, 75, 100]
    assert sum(t.weight for t in config.tiers) == pytest.approx(1.0)
    assert config.bin_width == 0.0025
    assert "10/25/50/75/100x" in config.method


def reference_advance(rows: list[Row], config: HeatmapConfig, oi_before: float) -> list[Level]:
    """The §1.5 loop written plainly, level by level, to check the vectorised one against."""
    book: list[Level] = []
    oi = oi_before
    for high, low, close, delta, share in rows:
        before, oi = oi, oi + delta
        book = [
            (side, price, usd)
            for side, price, usd in book
            if not (side == "long" and low <= price) and not (side == "short" and high >= price)
        ]
        if delta > 0:
            fractions: tuple[tuple[Side, float], ...] = (("long", share), ("short", 1.0 - share))
            for side, fraction in fractions:
                for tier in config.tiers:
                    price = liquidation_price(close, tier.leverage, side)
                    book.append((side, price, delta * close * fraction * tier.weight))
        elif delta < 0:
            factor = max(0.0, 1.0 + delta / before)
            book = [(side, price, usd * factor) for side, price, usd in book if factor > 0]
    return book


RANDOM_OI = 500.0
"""Open interest (base) before the random rows."""


def random_rows(seed: int, count: int) -> list[Row]:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.004, count)))
    high = close * (1.0 + np.abs(rng.normal(0.0, 0.003, count)))
    low = close * (1.0 - np.abs(rng.normal(0.0, 0.003, count)))
    delta = rng.normal(1.0, 3.0, count)
    # Wipe-outs, one on each day: every position closes (OI to 0) and the market reopens.
    oi = RANDOM_OI
    for bar in range(count):
        if bar in (count // 6, count // 2 + 10):
            delta[bar] = -oi
        elif bar - 1 in (count // 6, count // 2 + 10):
            delta[bar] = RANDOM_OI
        oi += float(delta[bar])
        assert oi > 0 or (delta[bar] < 0 and oi == 0), "open interest stays positive"
    share = rng.uniform(0.0, 1.0, count)
    return [
        (float(h), float(lo), float(c), float(d), float(sh))
        for h, lo, c, d, sh in zip(high, low, close, delta, share, strict=True)
    ]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_matches_the_plain_loop_over_two_days(seed: int) -> None:
    config = replace(EXACT, tiers=HeatmapConfig().tiers)
    rows = random_rows(seed, 576)
    midnight_oi = float(oi_path(rows[:288], RANDOM_OI)[-1])
    book = advance(LevelBook.empty(), make_bars(rows[:288], oi_before=RANDOM_OI), config)
    book = advance(book, make_bars(rows[288:], first=288, oi_before=midnight_oi), config)
    expected = sorted(reference_advance(rows, config, RANDOM_OI))
    assert len(book) == len(expected) > 50
    assert [side for side, _, _ in levels(book)] == [side for side, _, _ in expected]
    assert [p for _, p, _ in levels(book)] == pytest.approx([p for _, p, _ in expected], rel=1e-12)
    assert [u for _, _, u in levels(book)] == pytest.approx([u for _, _, u in expected], rel=1e-9)


def test_a_day_of_twenty_symbols_takes_well_under_a_second() -> None:
    config = HeatmapConfig()
    # A large carried book: 5,000 levels spread ±30% around the price.
    rng = np.random.default_rng(7)
    carried = LevelBook(
        np.arange(5_000) % 2 == 0,
        np.where(np.arange(5_000) % 2 == 0, 1.0 - rng.uniform(0.001, 0.3, 5_000), 1.0)
        * np.where(np.arange(5_000) % 2 == 0, 1.0, 1.0 + rng.uniform(0.001, 0.3, 5_000))
        * 100.0,
        rng.uniform(1.0, 1_000.0, 5_000),
    )
    days = [make_bars(random_rows(seed, 288), oi_before=RANDOM_OI) for seed in range(20)]
    heatmap(carried, 100.0, config)  # pyarrow's one-off import of its pandas shim is not timed
    start = time.perf_counter()
    for bars in days:
        book = advance(carried, bars, config)
        heatmap(book, float(bars.close[-1]), config)
        hot_zones(book, float(bars.close[-1]), config)
    assert time.perf_counter() - start < 1.0
