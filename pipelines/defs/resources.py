"""The treadmill resource: warehouse root, archive URL and symbol universe for a run."""

import dagster as dg

from transforms.settings import Settings


class TreadmillConfig(dg.ConfigurableResource):
    """Where the warehouse is and what it pulls.

    Empty fields fall back to ``TREADMILL_WAREHOUSE``, ``TREADMILL_BINANCE_URL`` and
    ``TREADMILL_UNIVERSE``, then to the documented defaults.
    """

    warehouse: str = ""
    binance_url: str = ""
    universe: str = ""

    def settings(self) -> Settings:
        return Settings.from_env(
            warehouse=self.warehouse or None,
            binance_url=self.binance_url or None,
            universe=self.universe or None,
        )


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"treadmill": TreadmillConfig()})
