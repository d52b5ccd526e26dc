"""Regime features: built like facts, one UTC day at a time, over trailing windows of facts."""

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.defs.facts import build_fact_asset
from transforms.facts import FCT_FUNDING
from transforms.features import FEAT_REGIME_1H, FEATURE_MODELS, funding_estimate_errors
from transforms.publish import PARTITION_FILE, partition_dir


def funding_estimate_mae(features: pa.Table, day: date, lake_root: Path) -> tuple[float, int]:
    """The premium-based funding estimate against the rates settled that day, once they exist."""
    path = partition_dir(lake_root, FCT_FUNDING.name, day) / PARTITION_FILE
    if not path.exists():
        return 0.0, 0
    return funding_estimate_errors(features, pq.read_table(path))


feature_assets = [
    build_fact_asset(
        model,
        {"funding_estimate_mae_8h": funding_estimate_mae} if model is FEAT_REGIME_1H else None,
    )
    for model in FEATURE_MODELS
]
