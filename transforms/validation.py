"""Run the staged datasets' expectation suites (declared in :mod:`transforms.quality`) in Great
Expectations over a batch of parsed files.

One GX validation covers every file of a run: each row carries the file and day it belongs to,
and GX's unexpected-row index names them, so a failure is charged to exactly one symbol and day.
Great Expectations takes ~8 s to import: only staging loads this module, never the code
location's definitions.
"""

import re
from collections import defaultdict
from collections.abc import Mapping
from datetime import date, datetime
from functools import cache
from typing import Any

import great_expectations as gx
import great_expectations.expectations as gxe
import pyarrow as pa
from great_expectations.core.validation_definition import ValidationDefinition

from transforms.dataset import Dataset
from transforms.quality import (
    DAY_COLUMN,
    FILE_COLUMN,
    Expectation,
    Failure,
    checked_columns,
    expectations,
    joined,
    sample,
)


def _build(expectation: Expectation) -> gxe.Expectation:
    """The GX expectation an :class:`Expectation` declares."""
    arguments = dict(expectation.options)
    if expectation.column:
        arguments["column"] = expectation.column
    expectation_class: type[gxe.Expectation] = getattr(gxe, expectation.kind)
    return expectation_class(**arguments)


@cache
def _validation(dataset: Dataset) -> ValidationDefinition:
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}  # type: ignore[assignment]
    batch = (
        context.data_sources.add_pandas(dataset.table)
        .add_dataframe_asset(dataset.table)
        .add_batch_definition_whole_dataframe(dataset.table)
    )
    suite = context.suites.add(
        gx.ExpectationSuite(
            name=dataset.table, expectations=[_build(e) for e in expectations(dataset)]
        )
    )
    return context.validation_definitions.add(
        gx.ValidationDefinition(data=batch, suite=suite, name=dataset.table)
    )


def expectation_failures(
    dataset: Dataset, files: Mapping[str, tuple[pa.Table, pa.Array]]
) -> dict[tuple[str, date], list[Failure]]:
    """Run the dataset's suite once over every file; failures keyed by (file, day).

    ``files`` maps each source file to its table and the day of each of its rows.
    """
    columns = list(checked_columns(dataset))
    tagged = [
        table.select(columns)
        .append_column(FILE_COLUMN, pa.repeat(pa.scalar(name), table.num_rows))
        .append_column(DAY_COLUMN, days)
        for name, (table, days) in files.items()
        if table.num_rows
    ]
    if not tagged:
        return {}
    # Days as datetime64, not one Python object per row: GX hashes and indexes the frame.
    frame = pa.concat_tables(tagged).to_pandas(date_as_object=False)
    validation = _validation(dataset)
    # Nearly every batch passes: a yes/no pass costs a third of one that lists unexpected
    # rows, so the rows are listed (and charged to their files) only when something failed.
    if validation.run(batch_parameters={"dataframe": frame}, result_format="BOOLEAN_ONLY").success:
        return {}
    result = validation.run(
        batch_parameters={"dataframe": frame},
        result_format={
            "result_format": "COMPLETE",
            "unexpected_index_column_names": [FILE_COLUMN, DAY_COLUMN],
        },
    )
    names = {
        (re.sub(r"(?<!^)(?=[A-Z])", "_", e.kind).lower(), e.name.split("__", 1)[1]): e.name
        for e in expectations(dataset)
    }
    failures: dict[tuple[str, date], list[Failure]] = defaultdict(list)
    for outcome in result.results:
        config = outcome.expectation_config
        if outcome.success or config is None:
            continue
        name = names[config.type, _columns_of(config)]
        rows: dict[tuple[str, date], list[Any]] = defaultdict(list)
        for index in outcome.result.get("unexpected_index_list") or []:
            key = (str(index[FILE_COLUMN]), _as_date(index[DAY_COLUMN]))
            rows[key].append({k: v for k, v in index.items() if not k.startswith("__")})
        for key, unexpected in rows.items():
            failures[key].append(Failure(name, "error", len(unexpected), sample(unexpected)))
    return dict(failures)


def _columns_of(config: Any) -> str:
    kwargs = config.kwargs
    if kwargs.get("column"):
        return str(kwargs["column"])
    if kwargs.get("column_list"):
        return joined(kwargs["column_list"])
    return joined([kwargs.get("column_A", ""), kwargs.get("column_B", "")])


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
