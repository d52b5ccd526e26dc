"""The treadmill resource: warehouse root, archive URL and symbol universe for a run."""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from transforms.lock import writer_lock
from transforms.settings import Settings


class TreadmillConfig(dg.ConfigurableResource):
    """Where the warehouse is and what it pulls.

    Empty fields fall back to ``TREADMILL_WAREHOUSE``, ``TREADMILL_BINANCE_URL``,
    ``TREADMILL_UNIVERSE`` and each REST venue's ``TREADMILL_<VENUE>_URL`` / ``_RATE``, then to
    the documented defaults. A run that uses it holds the
    warehouse's writer lock from start to end (:mod:`transforms.lock`), so at most one run
    writes the lake and the catalog at a time, whoever launched it.
    """

    warehouse: str = ""
    binance_url: str = ""
    universe: str = ""
    venue_urls: str = ""
    """REST venues' base URLs, ``bitmex=URL;bybit=URL`` (default ``TREADMILL_<VENUE>_URL``)."""
    venue_rates: str = ""
    """REST venues' paces, ``bitmex=30/60;…`` (default ``TREADMILL_<VENUE>_RATE``)."""
    hyperliquid_url: str = ""
    """Hyperliquid's archive, ``s3://`` or a mirror (default ``TREADMILL_HYPERLIQUID_URL``)."""
    cftc_url: str = ""
    """CFTC's site or a mirror of it (default ``TREADMILL_CFTC_URL``)."""
    fetch_attempts: int = 0
    """Attempts per download before it counts as failed (0: the default, 5)."""
    fetch_backoff_seconds: float = 0.0
    """First wait between attempts, doubling up to 30 s, with full jitter (0: the default, 1)."""

    def settings(self) -> Settings:
        settings = Settings.from_env(
            warehouse=self.warehouse or None,
            binance_url=self.binance_url or None,
            universe=self.universe or None,
            venue_urls=self.venue_urls or None,
            venue_rates=self.venue_rates or None,
            hyperliquid_url=self.hyperliquid_url or None,
            cftc_url=self.cftc_url or None,
        )
        changes = {
            "max_attempts": self.fetch_attempts,
            "backoff_initial_seconds": self.fetch_backoff_seconds,
        }
        return settings.with_limits(**{name: value for name, value in changes.items() if value})

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator["TreadmillConfig"]:
        def waiting(message: str) -> None:
            if context.log is not None:
                context.log.warning(message)

        with writer_lock(self.settings().warehouse, on_wait=waiting):
            yield self


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"treadmill": TreadmillConfig()})
