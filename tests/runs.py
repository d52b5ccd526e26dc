"""A simulated archive, and the daily job run in process over a range of it, as `treadmill
materialize` runs it."""

from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg

from pipelines.definitions import defs
from pipelines.defs.jobs import DAILY_JOB
from pipelines.runner import RANGE_END_TAG, RANGE_START_TAG
from simulator.run import SimConfig, simulate_archive
from transforms.settings import format_pairs


def simulate_mirror(root: Path, first: date, last: date, **options: Any) -> Path:
    """``root/mirror``: the simulator's archive of ``first..last`` (``options`` as SimConfig's)."""
    mirror = root / "mirror"
    simulate_archive(SimConfig(out=mirror, start=first, end=last, workers=1, **options))
    return mirror


def one_perpetual_archive(root: Path, first: date, last: date) -> str:
    """The ``file://`` URL of a simulated archive of BTCUSDT (USDⓈ-M) alone over
    ``first..last``: the smallest archive a CLI run builds from."""
    mirror = simulate_mirror(root, first, last, symbols=("BTCUSDT",), coin_margined=(), spot=())
    return mirror.as_uri() + "/"


def run_daily(
    warehouse: Path,
    archive: Path | str,
    first: date,
    last: date,
    universe: str,
    venue_urls: dict[str, str] | None = None,
    hyperliquid: Path | None = None,
) -> dg.ExecuteInProcessResult:
    """Materialise ``first..last`` of every asset as one run; it must succeed.

    ``archive`` is a mirror's folder or the archive's URL; ``venue_urls`` the REST venues' (a
    :class:`simulator.venue_server.VenueServer`'s ``treadmill_urls()``); ``hyperliquid`` a
    mirror of Hyperliquid's buckets (the simulator's ``<out>/hyperliquid``).
    """
    config = {
        "warehouse": str(warehouse),
        "binance_url": archive if isinstance(archive, str) else archive.as_uri() + "/",
        "universe": universe,
        "venue_urls": format_pairs(venue_urls or {}),
        # The simulated venues are local: no need to wait out the real venues' limits.
        "venue_rates": format_pairs(dict.fromkeys(venue_urls or {}, "1000/1")),
        "hyperliquid_url": hyperliquid.as_uri() + "/" if hyperliquid else "",
    }
    result = (
        defs()
        .resolve_job_def(DAILY_JOB)
        .execute_in_process(
            instance=dg.DagsterInstance.ephemeral(),
            tags={RANGE_START_TAG: first.isoformat(), RANGE_END_TAG: last.isoformat()},
            run_config={"resources": {"treadmill": {"config": config}}},
        )
    )
    assert result.success
    return result
