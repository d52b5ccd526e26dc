"""Exchange sources as plug-ins of one shape: URL layout → fetch → parse to canonical Arrow.

Every source registers its datasets here; the code location builds one staged asset per
dataset, so adding an exchange is adding a module, not touching the pipeline.
"""

from transforms.sources.base import Cadence, Dataset, Kind
from transforms.sources.binance import BINANCE_DATASETS

DATASETS: tuple[Dataset, ...] = BINANCE_DATASETS

EXCHANGES: tuple[str, ...] = tuple(dict.fromkeys(d.exchange for d in DATASETS))


def dataset(exchange: str, name: str) -> Dataset:
    """Look a dataset up by exchange id and dataset name."""
    for candidate in DATASETS:
        if candidate.exchange == exchange and candidate.name == name:
            return candidate
    raise KeyError(f"unknown dataset {exchange}/{name}")


__all__ = ["DATASETS", "EXCHANGES", "Cadence", "Dataset", "Kind", "dataset"]
