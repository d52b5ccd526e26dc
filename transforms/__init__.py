"""treadmill's pure library: sources, fetch, parsers, schemas and partition publishing.

Nothing in this package imports Dagster; the code location in ``pipelines/`` wires it up.
"""
