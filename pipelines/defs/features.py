"""Regime features: built like facts, one UTC day at a time, over trailing windows of facts."""

from pipelines.defs.facts import build_fact_asset
from transforms.features import FEATURE_MODELS

feature_assets = [build_fact_asset(model) for model in FEATURE_MODELS]
