"""Writing the simulated Hyperliquid archive: both buckets under ``<out>/hyperliquid/`` and the
truth under ``<out>/truth/``.

Every day of the range has its asset contexts file and every hour its fills file, empty or not
(layouts in :mod:`transforms.formats`): a day's contexts are every coin's rows sorted by time
then coin; an hour's fills are every coin's lines in time order, in the ``node_fills`` layout as
they are, in the ``node_fills_by_block`` layout grouped into one line per block.
"""

import json
from collections.abc import Iterable
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Final

import lz4.frame
import numpy as np
import polars as pl

from simulator.hyperliquid.clock import (
    BLOCK_MS,
    BLOCK_SLOT_ORIGIN,
    MS_PER_DAY,
    MS_PER_HOUR,
    TIMESTAMP,
    block_jitter,
    day_ms,
    hash64,
    ns_time,
)
from simulator.hyperliquid.coin import HyperliquidCoin
from simulator.hyperliquid.contexts import ASSET_CTXS_TRUTH_SCHEMA, FUNDING_SCHEMA
from simulator.hyperliquid.fills import LIQUIDATIONS_SCHEMA
from simulator.hyperliquid.model import QUIRK_NAMES, HyperliquidQuirks
from transforms.formats import (
    HYPERLIQUID_ASSET_CTXS_COLUMNS,
    HYPERLIQUID_NODE_FILLS,
    HYPERLIQUID_NODE_FILLS_BY_BLOCK,
    hyperliquid_asset_ctxs_key,
    hyperliquid_fills_key,
    hyperliquid_fills_layout,
)

HYPERLIQUID_DIR: Final = "hyperliquid"
"""The mirror root under the simulation's ``out``: it holds both buckets."""
OPEN_INTEREST_SCHEMA: Final = pl.Schema(
    {"coin": pl.String(), "ts": TIMESTAMP, "oi_base": pl.Float64(), "oi_usd": pl.Float64()}
)
"""``truth/hyperliquid_open_interest.parquet``: the one-sided book at every on-grid minute."""


def hyperliquid_root(out: Path) -> Path:
    """The mirror root of both buckets: ``out/hyperliquid``."""
    return out / HYPERLIQUID_DIR


def write_hyperliquid(
    out: Path,
    coins: Iterable[HyperliquidCoin],
    start: date,
    end: date,
    quirks: HyperliquidQuirks,
) -> dict[str, int]:
    """Write ``out/hyperliquid/…`` for ``start``…``end`` (every day and hour) and the truth.

    Returns the number of files written per kind (``asset_ctxs``, ``node_fills``,
    ``node_fills_by_block``).
    """
    collected = sorted(coins, key=lambda c: c.coin)
    root = hyperliquid_root(out)
    written = {"asset_ctxs": 0, HYPERLIQUID_NODE_FILLS: 0, HYPERLIQUID_NODE_FILLS_BY_BLOCK: 0}
    days = (end - start).days + 1

    ctxs = (
        pl.concat([c.ctxs for c in collected]).sort("time_ms", "coin")
        if collected
        else pl.DataFrame(schema={"time_ms": pl.Int64, "coin": pl.String})
    )
    ctxs = ctxs.with_columns((pl.col("time_ms") // MS_PER_DAY).alias("epoch_day"))
    by_day = {key[0]: frame for key, frame in ctxs.partition_by("epoch_day", as_dict=True).items()}
    for offset in range(days):
        day = start + timedelta(days=offset)
        frame = by_day.get(day_ms(day) // MS_PER_DAY)
        if frame is None or frame.height == 0:
            text = ",".join(HYPERLIQUID_ASSET_CTXS_COLUMNS) + "\n"
        else:
            text = frame.select(
                pl.from_epoch("time_ms", time_unit="ms")
                .dt.strftime("%Y-%m-%dT%H:%M:%SZ")
                .alias("time"),
                *HYPERLIQUID_ASSET_CTXS_COLUMNS[1:],
            ).write_csv(line_terminator="\n")
        _write_lz4(root / hyperliquid_asset_ctxs_key(day), text.encode())
        written["asset_ctxs"] += 1

    events = (
        pl.concat([c.events.with_columns(pl.lit(c.coin).alias("coin")) for c in collected])
        if collected
        else pl.DataFrame(
            schema={"time_ms": pl.Int64, "seq": pl.Int64, "line": pl.String, "coin": pl.String}
        )
    )
    events = events.sort("time_ms", "coin", "seq").with_columns(
        (pl.col("time_ms") // MS_PER_HOUR).alias("hour")
    )
    by_hour = {key[0]: frame for key, frame in events.partition_by("hour", as_dict=True).items()}
    first_hour = day_ms(start) // MS_PER_HOUR
    empty = events.clear()
    for hour in range(first_hour, first_hour + days * 24):
        instant = datetime.fromtimestamp(hour * 3600, UTC)
        frame = by_hour.get(hour, empty)
        layout = hyperliquid_fills_layout(instant)
        if layout == HYPERLIQUID_NODE_FILLS:
            text = "".join(line + "\n" for line in frame["line"])
        else:
            text = _blocks(hour, frame)
        _write_lz4(root / hyperliquid_fills_key(instant), text.encode())
        written[layout] += 1

    _write_truth(out, collected, quirks)
    return written


def _blocks(hour: int, events: pl.DataFrame) -> str:
    """One ``node_fills_by_block`` line per block (every event of one instant, all coins, in
    order), plus a few blocks of the hour with no events."""
    grouped = events.group_by("time_ms", maintain_order=True).agg(pl.col("line").str.join(","))
    blocks = dict(zip(grouped["time_ms"].to_list(), grouped["line"].to_list(), strict=True))
    slots = {when // BLOCK_MS: when for when in blocks}
    first_slot = hour * MS_PER_HOUR // BLOCK_MS
    for k in range(2):
        slot = first_slot + hash64(hour * 7 + k) % (MS_PER_HOUR // BLOCK_MS)
        if slot not in slots:
            slots[slot] = slot * BLOCK_MS + int(block_jitter(np.array([slot]))[0])
    out = []
    for slot in sorted(slots):
        when = slots[slot]
        block_ns = when * 1_000_000 + hash64(slot) % 1_000_000
        local_ns = block_ns + 50_000_000 + hash64(slot + 1) % 350_000_000
        out.append(
            f'{{"local_time":"{ns_time(local_ns)}","block_time":"{ns_time(block_ns)}",'
            f'"block_number":{slot - BLOCK_SLOT_ORIGIN},"events":[{blocks.get(when, "")}]}}\n'
        )
    return "".join(out)


def _write_truth(out: Path, coins: list[HyperliquidCoin], quirks: HyperliquidQuirks) -> None:
    truth = out / "truth"
    truth.mkdir(parents=True, exist_ok=True)
    _concat([c.liquidations for c in coins], LIQUIDATIONS_SCHEMA).sort(
        "ts", "coin", "tid", "liquidated_user"
    ).write_parquet(truth / "hyperliquid_liquidations.parquet")
    _concat([c.funding for c in coins], FUNDING_SCHEMA).sort("coin", "funding_time").write_parquet(
        truth / "hyperliquid_funding.parquet"
    )
    contexts = _concat([c.asset_ctxs for c in coins], ASSET_CTXS_TRUTH_SCHEMA).sort("coin", "ts")
    contexts.select(
        "coin",
        "ts",
        # The one-sided book, as the warehouse reports every venue's.
        (pl.col("open_interest") / 2).alias("oi_base"),
        (pl.col("open_interest") / 2 * pl.col("mark_px")).alias("oi_usd"),
    ).cast(OPEN_INTEREST_SCHEMA).write_parquet(truth / "hyperliquid_open_interest.parquet")
    contexts.write_parquet(truth / "hyperliquid_asset_ctxs.parquet")
    counts = {name: sum(c.counts.get(name, 0) for c in coins) for name in QUIRK_NAMES}
    fills = {
        name: sum(c.counts.get(name, 0) for c in coins)
        for name in (
            "liquidations",
            "liquidation_fills",
            "partial_liquidations",
            "backstop_liquidations",
            "ordinary_trades",
        )
    }
    injected = sorted(
        (row for c in coins for row in c.injected), key=lambda r: (r["time"], r["coin"], r["quirk"])
    )
    (truth / "hyperliquid_quirks.json").write_text(
        json.dumps(
            {
                **counts,
                "by_coin": {
                    c.coin: {name: c.counts.get(name, 0) for name in QUIRK_NAMES} for c in coins
                },
                "rates": asdict(quirks),
                "fills": fills,
                "injected": injected,
            },
            indent=2,
        )
        + "\n"
    )


def _write_lz4(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(lz4.frame.compress(data))


def _concat(frames: list[pl.DataFrame], schema: pl.Schema) -> pl.DataFrame:
    if not frames:
        return pl.DataFrame(schema=schema)
    return pl.concat([f.cast(schema) for f in frames]).select(schema.names())
