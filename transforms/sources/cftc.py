"""CFTC's Commitments of Traders: the weekly Traders in Financial Futures report, futures only.

Files (www.cftc.gov, the base URL ``TREADMILL_CFTC_URL``):

- ``files/dea/history/fut_fin_txt_YYYY.zip``: the year's reports, one comma-separated text file
  (``FinFutYY.txt``) with a header row, every market of every week of the year. CFTC adds each
  week's report to the current year's file; a past year's file no longer changes.
- ``dea/newcot/FinFutWk.txt``: the latest week's report alone, **without a header**: its columns
  are in the documented order (below), the order of the yearly files' current header.

Symbols are CFTC contract market codes (``CFTC_Contract_Market_Code``): ``133741`` is CME's
Bitcoin future (5 bitcoin a contract) and ``133742`` its Micro Bitcoin future (0.1 bitcoin);
codes and sizes are CME's contract specifications as the report's ``Contract_Units`` states them
("CONTRACTS OF 5 BITCOINS", "… 0.1 BITCOIN"). One file holds every market, so it is fetched
and parsed once for the universe.

**Days.** A report gives positions as of a Tuesday (the file's ``Report_Date_as_YYYY-MM-DD``,
which despite its name is the as-of date); CFTC releases it the Friday after, 15:30 ET. Each
weekly row belongs to the daily partition of its as-of Tuesday; every other day is outside the
dataset's window (coverage ``not_published``). ``report_date`` is the scheduled release, the
as-of date plus three days (a holiday week's release slips to the Monday; the files do not say
so). A Tuesday's unit is ``weeks/YYYYMMDD`` under ``raw/cftc/``: ``week.json`` there names the
file that held it: the year's file, else the current week's.

**Re-fetching** (:class:`transforms.objects.WeeklyFiles`): a landed file is fetched again when
a release has come out since it landed (the next Friday 20:30 UTC after its landing time, the
file's mtime), or when the Tuesday wanted is past its release and not in it (a late, holiday-week
release). A year's file landed after the year closed (February 1 of the next year: its last
report is out by early January) is immutable and never fetched again.

**Header drift.** Columns are found by name, normalised (lower case, every run of other
characters an underscore), with the spellings the files have used: ``Market_and_Exchange_Names``
or ``Market and Exchange Names``, the as-of date as ``Report_Date_as_YYYY-MM-DD``, ``As of Date
in Form YYYY-MM-DD``, ``Report_Date_as_MM_DD_YYYY`` or ``As_of_Date_In_Form_YYMMDD``; their order
does not matter. A column that cannot be found is an error naming the file and the column.

**Definition** (CFTC's explanatory notes): spreading is the part of a trader's long and short
positions that offset; the report counts it on both sides, so for each side the categories'
positions plus their spreading plus the non-reportable positions make the open interest.
"""

import csv
import functools
import re
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from transforms.dataset import Cadence, Dataset, ParsedFile, Source
from transforms.errors import ParseError
from transforms.landed import week_file
from transforms.schemas import COT, Kind

EXCHANGE: Final = "cftc"
MARKET_EXCHANGE: Final = "cme"
"""Where the markets trade: the facts' ``exchange``."""
HISTORY: Final = "files/dea/history"
CURRENT_WEEK: Final = "dea/newcot/FinFutWk.txt"
WEEKS: Final = "weeks"
FIRST_REPORT: Final = date(2017, 12, 19)
"""The first Tuesday with CME Bitcoin futures open (they began trading on 2017-12-18)."""
TUESDAY: Final = 1
RELEASE_DAYS: Final = 3
RELEASE_TIME: Final = time(20, 30)
"""15:30 ET in UTC during standard time (19:30 in summer): never before the release."""
MAX_INFLATED_BYTES: Final = 256 * 1024**2


@dataclass(frozen=True)
class Contract:
    name: str
    size: float
    """Bitcoin per contract."""


CONTRACTS: Final = {
    "133741": Contract("BITCOIN - CHICAGO MERCANTILE EXCHANGE", 5.0),
    "133742": Contract("MICRO BITCOIN - CHICAGO MERCANTILE EXCHANGE", 0.1),
}

_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "market_name": ("market_and_exchange_names",),
    "as_of": (
        "report_date_as_yyyy_mm_dd",
        "as_of_date_in_form_yyyy_mm_dd",
        "report_date_as_mm_dd_yyyy",
        "as_of_date_in_form_yymmdd",
    ),
    "code": ("cftc_contract_market_code",),
    "open_interest": ("open_interest_all",),
    **{
        f"{category}_{side}": tuple(
            f"{prefix}_positions_{abbreviation}_all"
            for prefix in prefixes
            for abbreviation in ((side,) if side != "spreading" else ("spread", "spreading"))
        )
        for category, prefixes in (
            ("dealer", ("dealer",)),
            ("asset_manager", ("asset_mgr", "asset_manager")),
            ("leveraged_funds", ("lev_money", "leveraged_funds")),
            ("other_reportable", ("other_rept", "other_reportable")),
        )
        for side in ("long", "short", "spreading")
    },
    "total_reportable_long": ("tot_rept_positions_long_all", "total_reportable_long_all"),
    "total_reportable_short": ("tot_rept_positions_short_all", "total_reportable_short_all"),
    "nonreportable_long": ("nonrept_positions_long_all", "nonreportable_positions_long_all"),
    "nonreportable_short": ("nonrept_positions_short_all", "nonreportable_positions_short_all"),
}
"""Each value the parser reads, and the (normalised) header names it has gone by."""

DOCUMENTED_ORDER: Final = {
    "market_name": 0,
    "as_of": 2,
    "code": 3,
    "open_interest": 7,
    **{
        f"{category}_{side}": 8 + 3 * c + s
        for c, category in enumerate(
            ("dealer", "asset_manager", "leveraged_funds", "other_reportable")
        )
        for s, side in enumerate(("long", "short", "spreading"))
    },
    "total_reportable_long": 20,
    "total_reportable_short": 21,
    "nonreportable_long": 22,
    "nonreportable_short": 23,
}
"""Positions (0-based) in a file without a header (``FinFutWk.txt``): Market_and_Exchange_Names,
As_of_Date_In_Form_YYMMDD, Report_Date_as_YYYY-MM-DD, CFTC_Contract_Market_Code,
CFTC_Market_Code, CFTC_Region_Code, CFTC_Commodity_Code, Open_Interest_All, then Long, Short and
Spread of Dealer, Asset_Mgr, Lev_Money and Other_Rept, Tot_Rept Long and Short, NonRept Long and
Short; the percentages, changes, trader counts and concentration ratios follow."""

NUMBERS: Final = tuple(name for name in _COLUMNS if name not in ("market_name", "as_of", "code"))


def normalise(name: str) -> str:
    """A header name as compared: lower case, every run of other characters one underscore."""
    return re.sub(r"[^a-z0-9]+", "_", name.strip().strip('"').lower()).strip("_")


def year_file(year: int) -> str:
    return f"{HISTORY}/fut_fin_txt_{year}.zip"


def week_path(_: str, day: date) -> str:
    """The Tuesday's unit under ``raw/cftc/``: ``weeks/YYYYMMDD``."""
    return f"{WEEKS}/{day:%Y%m%d}"


def files_for(day: date) -> tuple[str, ...]:
    """The files that may hold the report as of ``day``, in the order they are asked."""
    return (year_file(day.year), CURRENT_WEEK)


def report_date(as_of: date) -> date:
    """The scheduled release (a Friday) of the report as of ``as_of`` (a Tuesday)."""
    return as_of + timedelta(days=RELEASE_DAYS)


def release_of(as_of: date) -> datetime:
    """When the report as of ``as_of`` is out."""
    return datetime.combine(report_date(as_of), RELEASE_TIME, tzinfo=UTC)


def next_release(after: datetime) -> datetime:
    """The first scheduled release strictly after ``after``."""
    day = after.astimezone(UTC).date()
    friday = day + timedelta(days=(4 - day.weekday()) % 7)
    moment = datetime.combine(friday, RELEASE_TIME, tzinfo=UTC)
    return moment if moment > after else moment + timedelta(days=7)


def closed_at(relpath: str) -> datetime | None:
    """When a file stops changing: a year's file on February 1 of the next year; None for the
    current week's file, which is replaced every week."""
    found = re.fullmatch(rf"{HISTORY}/fut_fin_txt_(\d{{4}})\.zip", relpath)
    if found is None:
        return None
    return datetime(int(found.group(1)) + 1, 2, 1, tzinfo=UTC)


def _text(path: Path, source_file: str) -> bytes:
    """The report text of a landed file: the one member of a zip, or the file itself."""
    if not source_file.endswith(".zip"):
        return path.read_bytes()
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
            if len(names) != 1:
                raise ParseError(
                    source_file, f"zip holds {names}, expected one text file", "zip_member"
                )
            if archive.getinfo(names[0]).file_size > MAX_INFLATED_BYTES:
                raise ParseError(source_file, "inflates past the size cap", "zip_member")
            return archive.read(names[0])
    except (zipfile.BadZipFile, OSError) as exc:
        raise ParseError(source_file, f"not a readable zip ({exc})", "zip_member") from exc


def _positions(first_line: str, source_file: str) -> tuple[dict[str, int], bool]:
    """Where each value is: by the header's names, or by the documented order without one."""
    fields = next(csv.reader([first_line]), [])
    names = [normalise(f) for f in fields]
    if not names or names[0] != "market_and_exchange_names":
        return dict(DOCUMENTED_ORDER), False
    positions = {}
    for value, spellings in _COLUMNS.items():
        found = next((names.index(s) for s in spellings if s in names), None)
        if found is None:
            raise ParseError(
                source_file, f"no {value} column (looked for {', '.join(spellings)})", "csv_columns"
            )
        positions[value] = found
    return positions, True


def _as_of(text: str) -> date | None:
    text = text.strip()
    for pattern, length in (("%Y-%m-%d", 10), ("%m/%d/%Y", 10), ("%y%m%d", 6)):
        try:
            return datetime.strptime(text[:length], pattern).date()
        except ValueError:
            continue
    return None


@functools.lru_cache(maxsize=4)
def _reports(path: Path, size: int, mtime_ns: int, source_file: str) -> tuple[pa.Table, bool]:
    """Every row of a landed file as (code, as_of, market_name, numbers), and whether it had
    a header; read once for every Tuesday and symbol it serves."""
    data = _text(path, source_file)
    if data[:64].lstrip().lower().startswith((b"<!doctype", b"<html", b"<?xml")):
        raise ParseError(source_file, "an HTML page, not a report", "csv_columns")
    text = data.decode("utf-8-sig", "replace")
    first_line = text.split("\n", 1)[0].strip("\r")
    if not first_line.strip():
        raise ParseError(source_file, "empty file", "csv_columns")
    positions, had_header = _positions(first_line, source_file)
    width = max(positions.values()) + 1
    try:
        table = pacsv.read_csv(
            pa.py_buffer(text.encode()),
            read_options=pacsv.ReadOptions(
                autogenerate_column_names=True, skip_rows=1 if had_header else 0
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={f"f{i}": pa.string() for i in positions.values()},
                include_columns=[f"f{i}" for i in sorted(set(positions.values()))],
            ),
        )
    except (pa.ArrowInvalid, KeyError) as exc:
        raise ParseError(
            source_file, f"report does not parse as CSV of {width}+ columns: {exc}", "csv_columns"
        ) from exc
    columns: dict[str, Any] = {
        value: pc.utf8_trim_whitespace(table[f"f{index}"]) for value, index in positions.items()
    }
    dates = {text: _as_of(text) for text in pc.unique(columns["as_of"]).to_pylist() if text}
    bad = [text for text, parsed in dates.items() if parsed is None]
    if bad or pc.any(pc.is_null(columns["as_of"])).as_py():
        raise ParseError(source_file, f"as-of date not a date: {bad[:3]}", "timestamp_unit")
    as_of = pa.array([dates[t] for t in columns["as_of"].to_pylist()], pa.date32())
    numbers = {}
    for value in NUMBERS:
        raw = pc.replace_substring(columns[value], ",", "")
        try:
            numbers[value] = pc.cast(pc.if_else(pc.equal(raw, ""), None, raw), pa.float64())
        except pa.ArrowInvalid as exc:
            raise ParseError(source_file, f"{value} is not a number: {exc}", "csv_values") from exc
    rows = pa.table(
        {
            "code": columns["code"],
            "as_of": as_of,
            "market_name": columns["market_name"],
            **numbers,
        }
    )
    return rows, had_header


def reports_of(path: Path, source_file: str) -> tuple[pa.Table, bool]:
    stat = path.stat()
    return _reports(path, stat.st_size, stat.st_mtime_ns, source_file)


def holds(path: Path, source_file: str, as_of: date) -> bool:
    """Whether a landed file holds the report as of ``as_of`` (any market)."""
    rows, _ = reports_of(path, source_file)
    return bool(pc.any(pc.equal(rows["as_of"], pa.scalar(as_of, pa.date32()))).as_py())


def parse_week(
    dataset: Dataset, symbols: tuple[str, ...], folder: Path, _: str, day: date
) -> ParsedFile:
    """The report as of ``day`` for ``symbols``, from the file its unit names (see the module)."""
    # <raw>/cftc/weeks/YYYYMMDD: the file it names lands at its own path under <raw>/cftc.
    held_in = week_file(folder)
    every, had_header = reports_of(folder.parents[1] / held_in, held_in)
    week = every.filter(pc.equal(every["as_of"], pa.scalar(day, pa.date32())))
    rows = week.filter(pc.is_in(week["code"], value_set=pa.array(symbols, pa.string())))
    rows = rows.take(pc.sort_indices(rows, [("code", "ascending")]))
    keep: list[int] = []
    seen: set[str] = set()
    for index, code in enumerate(rows["code"].to_pylist()):
        if code not in seen:
            seen.add(code)
            keep.append(index)
    duplicates = rows.num_rows - len(keep)
    rows = rows.take(pa.array(keep, pa.int64()))
    count = rows.num_rows
    codes = rows["code"].to_pylist()
    start = datetime.combine(day, time(), tzinfo=UTC)
    table = pa.table(
        {
            "exchange": pa.array([EXCHANGE] * count, pa.string()),
            "symbol": rows["code"],
            "as_of": pa.array([start] * count, pa.timestamp("us", tz="UTC")),
            "report_date": pa.array([report_date(day)] * count, pa.date32()),
            "market_name": rows["market_name"],
            "contract_size": pa.array(
                [CONTRACTS[c].size if c in CONTRACTS else None for c in codes], pa.float64()
            ),
            "open_interest": rows["open_interest"],
            **{
                name: rows[name]
                for name in COT.names
                if name in NUMBERS and name != "open_interest"
            },
            "source_file": pa.array([held_in] * count, pa.string()),
        }
    ).cast(COT)
    repairs = (
        (("repeated_market_rows_dropped", duplicates, f"{held_in} as of {day}"),)
        if duplicates
        else ()
    )
    return ParsedFile(
        table=table,
        rows_read=week.num_rows,
        duplicates_dropped=duplicates,
        had_header=had_header,
        timestamp_unit="text",
        repairs=repairs,
    )


CFTC_DATASETS: tuple[Dataset, ...] = (
    Dataset(
        EXCHANGE,
        "cot_tff",
        Kind.COT,
        Cadence.DAILY,
        FIRST_REPORT,
        None,
        week_path,
        description=(
            "CFTC's weekly Commitments of Traders (Traders in Financial Futures, futures only) "
            "per contract market: open interest and the long, short and spreading positions of "
            "dealers, asset managers, leveraged funds, other reportables and non-reportables, "
            "as of each Tuesday (staged on that Tuesday's partition)."
        ),
        origin="CFTC's yearly report files and the current week's file (every market)",
        source=Source.OBJECTS,
        parse=parse_week,
        weekday=TUESDAY,
    ),
)
