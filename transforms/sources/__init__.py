"""Exchange sources as plug-ins of one shape: URL layout → fetch → parse to canonical Arrow.

Every source registers its datasets here; the code location builds one staged asset per
dataset, so adding an exchange is adding a module, not touching the pipeline.
"""

from transforms.dataset import Cadence, Dataset, Source
from transforms.endpoints import Endpoint, Venue
from transforms.schemas import Kind
from transforms.sources.binance import BINANCE_DATASETS
from transforms.sources.binance_api import BINANCE_API_DATASETS
from transforms.sources.bitmex import BITMEX_DATASETS
from transforms.sources.bybit import BYBIT_DATASETS
from transforms.sources.cftc import CFTC_DATASETS
from transforms.sources.hyperliquid import HYPERLIQUID_DATASETS
from transforms.sources.okx import OKX_DATASETS
from transforms.sources.streams import STREAM_DATASETS

DATASETS: tuple[Dataset, ...] = (
    *BINANCE_DATASETS,
    *BINANCE_API_DATASETS,
    *BITMEX_DATASETS,
    *BYBIT_DATASETS,
    *OKX_DATASETS,
    *HYPERLIQUID_DATASETS,
    *STREAM_DATASETS,
    *CFTC_DATASETS,
)

EXCHANGES: tuple[str, ...] = tuple(dict.fromkeys(d.exchange for d in DATASETS))

VENUES: tuple[Venue, ...] = tuple(
    dict.fromkeys(d.endpoint.venue for d in DATASETS if d.endpoint is not None)
)
"""REST hosts, each with its own base URL and rate limit (configuration)."""


def dataset(exchange: str, name: str) -> Dataset:
    """Look a dataset up by exchange id and dataset name."""
    for candidate in DATASETS:
        if candidate.exchange == exchange and candidate.name == name:
            return candidate
    raise KeyError(f"unknown dataset {exchange}/{name}")


__all__ = [
    "DATASETS",
    "EXCHANGES",
    "VENUES",
    "Cadence",
    "Dataset",
    "Endpoint",
    "Kind",
    "Source",
    "Venue",
    "dataset",
]
