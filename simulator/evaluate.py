"""Score the warehouse's regime features against the simulator's ground truth.

The simulator knows what the warehouse can only estimate: the scripted phase of every hour, every
cascade, and each open position's exact liquidation level. This module reads a warehouse built
from a simulated archive and its ``truth/`` folder and measures:

- ``regime`` of ``feat_regime_1h`` against the true phases: precision and recall per label;
- ``feat_flush_events`` against the true cascades (runs of scripted flush hours): how many
  cascades an event overlaps, and how many events overlap a cascade;
- the liquidation heatmap: the share of the truly at-risk notional (open positions whose exact
  level lies within ``band`` of the close) that falls inside the estimate's top hot zones, for the
  published estimate (Binance's exact formula) and for the same estimate with the naive
  ``entry × (1 − 1/L)`` levels.

``python -m simulator.evaluate --warehouse W --truth M/truth`` prints the figures as Markdown.
"""

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Final

import numpy as np
import polars as pl
import typer

from transforms.facts import FCT_PRICE_1M, build_fact
from transforms.heatmap import HEATMAP_BARS
from transforms.liquidation.assumptions import HeatmapConfig
from transforms.liquidation.book import Bars, LevelBook, advance
from transforms.liquidation.zones import hot_zones
from transforms.publish import PARTITION_FILE, partition_dir
from transforms.storage import partition_days

WARMUP_DAYS: Final = 7
"""The first week of a warehouse is not scored: the heatmap's book holds a week of positions
by then, and the regime's 30-day z-scores have a week of history to measure a burst against."""


def _lake_table(lake: Path, table: str) -> pl.DataFrame:
    files = [
        partition_dir(lake, table, day) / PARTITION_FILE for day in partition_days(lake, table)
    ]
    return pl.concat([pl.read_parquet(f) for f in files]) if files else pl.DataFrame()


def regime_scores(features: pl.DataFrame, phases: pl.DataFrame) -> pl.DataFrame:
    """Precision and recall of each regime label against the scripted phase of its hour.

    One row per label that was either predicted or true: ``predicted_hours``, ``true_hours``,
    ``hits`` (both), ``precision`` (hits / predicted) and ``recall`` (hits / true); pooled over
    every perpetual, since every market of a simulation follows the same script.
    """
    scored = features.select("exchange", "symbol", "ts", "regime").join(
        phases.select(pl.col("hour").cast(features.schema["ts"]).alias("ts"), "phase"), on="ts"
    )
    labels = sorted(set(scored["regime"]) | set(scored["phase"]))
    rows = []
    for label in labels:
        predicted = scored["regime"] == label
        true = scored["phase"] == label
        hits = int((predicted & true).sum())
        rows.append(
            {
                "label": label,
                "predicted_hours": int(predicted.sum()),
                "true_hours": int(true.sum()),
                "hits": hits,
                "precision": hits / int(predicted.sum()) if predicted.any() else None,
                "recall": hits / int(true.sum()) if true.any() else None,
            }
        )
    return pl.DataFrame(rows)


def true_cascades(phases: pl.DataFrame) -> pl.DataFrame:
    """Each run of scripted flush hours: ``start_ts`` and ``end_ts`` (exclusive)."""
    flush = phases.sort("hour").with_columns(
        (pl.col("phase") == "flush").alias("is_flush"),
    )
    runs = flush.with_columns(
        (pl.col("is_flush") != pl.col("is_flush").shift(1)).fill_null(True).cum_sum().alias("run")
    ).filter(pl.col("is_flush"))
    return runs.group_by("run").agg(
        pl.col("hour").min().alias("start_ts"),
        (pl.col("hour").max() + pl.duration(hours=1)).alias("end_ts"),
    )


def cascade_scores(events: pl.DataFrame, phases: pl.DataFrame) -> pl.DataFrame:
    """Flush events against the true cascades, per perpetual.

    A cascade is found when an event overlaps it; an event is true when it overlaps a cascade.
    ``start_lag_hours`` is the mean of (event start − cascade start) over the cascades found,
    negative when the event begins with the selling that precedes the scripted flush.
    Cascades are counted only where the events could have been published: up to the last
    event resolution seen, so cascades at the end of the range are not held against them.
    """
    cascades = true_cascades(phases)
    rows = []
    for (exchange, symbol), mine in events.group_by("exchange", "symbol", maintain_order=True):
        horizon = mine["resolved_ts"].max()
        judged = cascades.filter(pl.col("end_ts").cast(mine.schema["end_ts"]) <= horizon)
        pairs = judged.join(
            mine.select(
                pl.col("start_ts").alias("event_start"), pl.col("end_ts").alias("event_end")
            ),
            how="cross",
        ).filter(
            (pl.col("event_start") < pl.col("end_ts").cast(mine.schema["end_ts"]))
            & (pl.col("event_end") > pl.col("start_ts").cast(mine.schema["start_ts"]))
        )
        found = pairs.group_by("run").agg(pl.col("event_start").min(), pl.col("start_ts").first())
        lags = (
            found["event_start"] - found["start_ts"].cast(mine.schema["start_ts"])
        ).dt.total_hours()
        true_events = pairs["event_start"].n_unique()
        rows.append(
            {
                "exchange": exchange,
                "symbol": symbol,
                "cascades": judged.height,
                "cascades_found": found.height,
                "events": mine.height,
                "events_on_a_cascade": true_events,
                "recall": found.height / judged.height if judged.height else None,
                "precision": true_events / mine.height if mine.height else None,
                "start_lag_hours": float(lags.mean()) if lags.len() else None,  # type: ignore[arg-type]
                "treadmill_events": int(mine["treadmill"].sum()),
            }
        )
    return pl.DataFrame(rows)


@dataclass(frozen=True)
class CaptureSettings:
    """How the heatmap is scored: which positions count as at risk, and how many hot zones."""

    band: float = 0.10
    """Open positions whose exact level lies within ±10% of the close are at risk: a move of
    that size happens within days in these markets."""
    top_zones: int = 5
    """The estimate's 5 largest hot zones below and 5 above the close (2.5% of price in all)."""


def captured_share(
    book: LevelBook,
    close: float,
    positions: pl.DataFrame,
    settings: CaptureSettings,
    config: HeatmapConfig,
) -> float | None:
    """The share of the at-risk notional of ``positions`` inside ``book``'s top hot zones.

    The zones are :func:`~transforms.liquidation.zones.hot_zones` of the book's levels within the
    band, so the score ranks bins exactly as ``feat_hot_zones`` does.
    """
    truth_price = positions["level"].to_numpy()
    at_risk = np.abs(truth_price / close - 1.0) <= settings.band
    if not at_risk.any() or len(book) == 0:
        return None
    truth_price = truth_price[at_risk]
    truth_usd = positions["notional_at_level_usd"].to_numpy()[at_risk]
    near = np.abs(book.price / close - 1.0) <= settings.band
    zones = hot_zones(
        LevelBook(book.is_long[near], book.price[near], book.notional_usd[near]),
        close,
        config,
        top_n=settings.top_zones,
    )
    inside = np.zeros(truth_price.size, dtype=np.bool_)
    for low, high in zip(
        zones["price_low"].to_numpy(), zones["price_high"].to_numpy(), strict=True
    ):
        inside |= (truth_price >= low) & (truth_price < high)
    return float(truth_usd[inside].sum() / truth_usd.sum())


def heatmap_capture(
    lake: Path,
    positions: pl.DataFrame,
    days: list[date],
    settings: CaptureSettings | None = None,
    config: HeatmapConfig | None = None,
) -> pl.DataFrame:
    """Mean captured share per perpetual for the exact and the naive heatmap.

    The books are replayed from the lake's bars day by day, as the heatmap asset builds them,
    once with each formula. Day D's book (after its last bar) is compared with the open
    positions at the midnight that ends D. The first :data:`WARMUP_DAYS` are not scored.
    """
    settings = settings or CaptureSettings()
    config = config or HeatmapConfig()
    formulas = {"exact": config, "naive": replace(config, formula="naive")}
    books: dict[tuple[str, str, str], LevelBook] = {}
    shares: list[dict[str, object]] = []
    for offset, day in enumerate(days):
        bars = pl.from_arrow(build_fact(HEATMAP_BARS, day, lake))
        assert isinstance(bars, pl.DataFrame)
        truth = positions.filter(pl.col("date") == day + timedelta(days=1))
        for (exchange, symbol), mine in bars.group_by("exchange", "symbol", maintain_order=True):
            day_bars = Bars.from_arrow(mine.to_arrow())
            close = float(mine["close"][-1])
            theirs = truth.filter((pl.col("exchange") == exchange) & (pl.col("symbol") == symbol))
            for formula, formula_config in formulas.items():
                key = (str(exchange), str(symbol), formula)
                books[key] = advance(books.get(key, LevelBook.empty()), day_bars, formula_config)
                if offset < WARMUP_DAYS or theirs.is_empty():
                    continue
                share = captured_share(books[key], close, theirs, settings, formula_config)
                if share is not None:
                    shares.append(
                        {"exchange": exchange, "symbol": symbol, "formula": formula, "share": share}
                    )
    return (
        pl.DataFrame(shares)
        .group_by("exchange", "symbol", "formula")
        .agg(pl.col("share").mean(), pl.len().alias("days"))
        .sort("exchange", "symbol", "formula")
    )


@dataclass(frozen=True)
class Evaluation:
    """Every score of one warehouse against its truth."""

    regime: pl.DataFrame
    cascades: pl.DataFrame
    heatmap: pl.DataFrame


def evaluate(warehouse: Path, truth: Path) -> Evaluation:
    """Score ``warehouse`` (built from a simulated archive) against ``truth``."""
    lake = warehouse / "lake"
    days = partition_days(lake, FCT_PRICE_1M.name)
    if len(days) <= WARMUP_DAYS:
        raise ValueError(
            f"{lake} holds {len(days)} day(s) of {FCT_PRICE_1M.name}; scoring starts after "
            f"{WARMUP_DAYS} days of warm-up, so it needs at least {WARMUP_DAYS + 1}"
        )
    scored_from = datetime.combine(days[WARMUP_DAYS], time(), UTC)
    phases = pl.read_parquet(truth / "phases.parquet").filter(pl.col("hour") >= scored_from)
    features = _lake_table(lake, "feat_regime_1h")
    events = _lake_table(lake, "feat_flush_events")
    if not events.is_empty():
        events = events.filter(pl.col("end_ts") > scored_from)
    return Evaluation(
        regime=regime_scores(features, phases),
        cascades=cascade_scores(events, phases)
        if not events.is_empty()
        else pl.DataFrame({"events": [0]}),
        heatmap=heatmap_capture(lake, pl.read_parquet(truth / "positions.parquet"), days),
    )


def main(
    warehouse: Annotated[Path, typer.Option(help="A warehouse built from a simulated archive.")],
    truth: Annotated[Path, typer.Option(help="The simulated archive's truth/ folder.")],
) -> None:
    """Print the warehouse's scores against the simulator's ground truth as Markdown."""
    result = evaluate(warehouse, truth)
    with pl.Config(tbl_formatting="MARKDOWN", tbl_hide_dataframe_shape=True, tbl_rows=50):
        for title, frame in (
            ("regime against the true phases", result.regime),
            ("flush events against the true cascades", result.cascades),
            ("heatmap: share of at-risk notional in the top bins", result.heatmap),
        ):
            print(f"### {title}\n\n{frame}\n")


if __name__ == "__main__":
    typer.run(main)
