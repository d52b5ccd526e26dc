"""``treadmill``: materialise the warehouse from the command line.

One module per command; this one assembles them, in the order ``treadmill --help`` lists them.
"""

import typer

from pipelines.cli import coverage, demo, history, materialize, record, report, sim, sql

app = typer.Typer(
    help="treadmill: a batch warehouse for crypto perpetual-futures positioning.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def main() -> None:
    """Pull exchange dump files into a Parquet lake and build positioning tables."""


app.command()(materialize.materialize)
app.command()(sim.sim)
app.command()(demo.demo)
app.command()(report.report)
app.command()(sql.sql)
app.command()(coverage.coverage)
app.command()(record.record)
app.command(name="prune-history")(history.prune_history)
