"""Regime features: built like facts, one UTC day at a time, over trailing windows of facts."""

from datetime import date
from pathlib import Path

import pyarrow as pa

from pipelines.defs.facts import build_fact_asset
from transforms import storage
from transforms.facts import FCT_FUNDING
from transforms.features import FEAT_REGIME_1H, FEATURE_MODELS, funding_estimate_errors


def funding_estimate_mae(features: pa.Table, day: date, lake_root: Path) -> tuple[float, int]:
    """The premium-based funding estimate against the rates settled that day, once they exist."""
    funding = storage.read_partition(lake_root, FCT_FUNDING.name, day)
    if funding is None:
        return 0.0, 0
    return funding_estimate_errors(features, funding)


feature_assets = [
    build_fact_asset(
        model,
        {"funding_estimate_mae_8h": funding_estimate_mae} if model is FEAT_REGIME_1H else None,
    )
    for model in FEATURE_MODELS
]
