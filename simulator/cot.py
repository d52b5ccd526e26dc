"""CFTC's Commitments of Traders files for the simulated period, as www.cftc.gov lays them out.

Under ``<out>/cftc/``:

- ``files/dea/history/fut_fin_txt_YYYY.zip``: one ``FinFutYY.txt`` with a header, every week of
  the year simulated so far, for CME's Bitcoin (``133741``, 5 BTC) and Micro Bitcoin
  (``133742``, 0.1 BTC) futures and an unrelated market (Euro FX) that must be left out;
- ``dea/newcot/FinFutWk.txt``: the last week alone, without a header, in the documented order.
  The last year's file does not hold that week yet: CFTC adds a week to the year's file after
  it has published it alone, so the last week is only found in the current week's file.

The weeks are those whose report covers a simulated day: Tuesdays from six days before the
start to the end. Headers drift by year, as the real files' have: until 2023 the names are
spelled with spaces (``As of Date in Form YYYY-MM-DD``) and the category columns come
non-reportables first; from 2024 the current underscored names in the documented order.

Positions are a seeded random walk per market, whole contracts that add up the way CFTC's do:
on each side the categories' positions plus their spreading plus the non-reportables make the
open interest. ``<out>/truth/cot.parquet`` holds every row written.
"""

import io
import random
import zipfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Final

import polars as pl

CATEGORIES: Final = ("dealer", "asset_manager", "leveraged_funds", "other_reportable")
MARKETS: Final = (
    ("133741", "BITCOIN - CHICAGO MERCANTILE EXCHANGE", 5.0, 24_000, "(CONTRACTS OF 5 BITCOINS)"),
    (
        "133742",
        "MICRO BITCOIN - CHICAGO MERCANTILE EXCHANGE",
        0.1,
        60_000,
        "(CONTRACTS OF 0.1 BITCOIN)",
    ),
    (
        "099741",
        "EURO FX - CHICAGO MERCANTILE EXCHANGE",
        125_000.0,
        650_000,
        "(CONTRACTS OF EUR 125,000)",
    ),
)
_ABBREVIATION: Final = {
    "dealer": "Dealer",
    "asset_manager": "Asset_Mgr",
    "leveraged_funds": "Lev_Money",
    "other_reportable": "Other_Rept",
}
_SIDES: Final = (("long", "Long"), ("short", "Short"), ("spreading", "Spread"))
CURRENT_HEADER: Final = (
    "Market_and_Exchange_Names",
    "As_of_Date_In_Form_YYMMDD",
    "Report_Date_as_YYYY-MM-DD",
    "CFTC_Contract_Market_Code",
    "CFTC_Market_Code",
    "CFTC_Region_Code",
    "CFTC_Commodity_Code",
    "Open_Interest_All",
    *(f"{_ABBREVIATION[c]}_Positions_{s}_All" for c in CATEGORIES for _, s in _SIDES),
    "Tot_Rept_Positions_Long_All",
    "Tot_Rept_Positions_Short_All",
    "NonRept_Positions_Long_All",
    "NonRept_Positions_Short_All",
    "Change_in_Open_Interest_All",
    "Contract_Units",
    "FutOnly_or_Combined",
)
"""The documented order (the weekly file's, without its header), shortened after the
positions to a few of the columns that follow."""
CURRENT_FROM: Final = 2024


def tuesdays(start: date, end: date) -> list[date]:
    """Report days whose week covers a day of ``start..end``."""
    first = start - timedelta(days=6)
    first += timedelta(days=(1 - first.weekday()) % 7)
    return [first + timedelta(weeks=n) for n in range((end - first).days // 7 + 1)]


def _split(total: int, weights: list[float]) -> list[int]:
    """``total`` in whole parts proportional to ``weights``; the rounding goes to the last."""
    scale = sum(weights)
    parts = [int(total * w / scale) for w in weights[:-1]]
    return [*parts, total - sum(parts)]


def _row(
    code: str,
    name: str,
    size: float,
    base: int,
    units: str,
    day: date,
    rng: random.Random,
    level: float,
) -> dict[str, Any]:
    open_interest = int(base * level)
    spreads = [int(open_interest * rng.uniform(0.005, 0.04)) for _ in CATEGORIES]
    outright = open_interest - sum(spreads)
    # Asset managers long, leveraged funds short: the basis trade CME's bitcoin futures carry.
    longs = _split(
        outright, [rng.uniform(a, b) for a, b in ((2, 6), (25, 40), (10, 20), (4, 9), (15, 25))]
    )
    shorts = _split(
        outright, [rng.uniform(a, b) for a, b in ((3, 8), (3, 8), (45, 60), (3, 8), (10, 20))]
    )
    row: dict[str, Any] = {
        "symbol": code,
        "market_name": name,
        "as_of": day,
        "report_date": day + timedelta(days=3),
        "contract_size": size,
        "contract_units": units,
        "open_interest": open_interest,
    }
    for index, category in enumerate(CATEGORIES):
        row[f"{category}_long"] = longs[index]
        row[f"{category}_short"] = shorts[index]
        row[f"{category}_spreading"] = spreads[index]
    row["nonreportable_long"] = longs[-1]
    row["nonreportable_short"] = shorts[-1]
    row["total_reportable_long"] = open_interest - longs[-1]
    row["total_reportable_short"] = open_interest - shorts[-1]
    return row


def _fields(row: dict[str, Any]) -> dict[str, str]:
    """A row's values under the current header names."""
    day: date = row["as_of"]
    values = {
        "Market_and_Exchange_Names": row["market_name"],
        "As_of_Date_In_Form_YYMMDD": f"{day:%y%m%d}",
        "Report_Date_as_YYYY-MM-DD": day.isoformat(),
        "CFTC_Contract_Market_Code": row["symbol"],
        "CFTC_Market_Code": "CME",
        "CFTC_Region_Code": "00",
        "CFTC_Commodity_Code": row["symbol"][:3],
        "Open_Interest_All": str(row["open_interest"]),
        "Tot_Rept_Positions_Long_All": str(row["total_reportable_long"]),
        "Tot_Rept_Positions_Short_All": str(row["total_reportable_short"]),
        "NonRept_Positions_Long_All": str(row["nonreportable_long"]),
        "NonRept_Positions_Short_All": str(row["nonreportable_short"]),
        "Change_in_Open_Interest_All": "0",
        "Contract_Units": row["contract_units"],
        "FutOnly_or_Combined": "FutOnly",
    }
    for category in CATEGORIES:
        for side, spelled in _SIDES:
            values[f"{_ABBREVIATION[category]}_Positions_{spelled}_All"] = str(
                row[f"{category}_{side}"]
            )
    return values


def _legacy_header() -> list[str]:
    """Names with spaces, the non-reportables before the categories (files until 2023)."""
    order = [
        *CURRENT_HEADER[:8],
        "NonRept_Positions_Long_All",
        "NonRept_Positions_Short_All",
        *(c for c in CURRENT_HEADER[8:24] if not c.startswith("NonRept")),
        *CURRENT_HEADER[24:],
    ]
    return order


def _spelled(name: str) -> str:
    if name == "Report_Date_as_YYYY-MM-DD":
        return "As of Date in Form YYYY-MM-DD"
    return name.replace("_", " ")


def _line(values: list[str]) -> str:
    return ",".join(f'"{v}"' if not v.replace(".", "").isdigit() else v for v in values) + "\n"


def _year_text(rows: list[dict[str, Any]], year: int) -> str:
    names = list(CURRENT_HEADER) if year >= CURRENT_FROM else _legacy_header()
    header = names if year >= CURRENT_FROM else [_spelled(n) for n in names]
    lines = [_line(header)]
    for row in rows:
        fields = _fields(row)
        lines.append(_line([fields[n] for n in names]))
    return "".join(lines)


def write_cot(out: Path, start: date, end: date, seed: int) -> pl.DataFrame:
    """Write the year files and the current week's file of ``start..end``, and the truth."""
    weeks = tuesdays(start, end)
    rows: list[dict[str, Any]] = []
    for code, name, size, base, units in MARKETS:
        rng = random.Random(f"{seed}-cot-{code}")
        level = 1.0
        for day in weeks:
            level = min(1.6, max(0.5, level * (1 + rng.gauss(0, 0.06))))
            rows.append(_row(code, name, size, base, units, day, rng, level))
    root = out / "cftc"
    history = root / "files" / "dea" / "history"
    history.mkdir(parents=True, exist_ok=True)
    last = weeks[-1]
    for year in sorted({d.year for d in weeks}):
        # The last week is only in the current week's file so far.
        held = [r for r in rows if r["as_of"].year == year and r["as_of"] != last]
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(f"FinFut{year % 100:02d}.txt", _year_text(held, year))
        (history / f"fut_fin_txt_{year}.zip").write_bytes(buffer.getvalue())
    newcot = root / "dea" / "newcot"
    newcot.mkdir(parents=True, exist_ok=True)
    (newcot / "FinFutWk.txt").write_text(
        "".join(_line([_fields(r)[n] for n in CURRENT_HEADER]) for r in rows if r["as_of"] == last)
    )
    truth = pl.DataFrame(rows).drop("contract_units").sort("symbol", "as_of")
    (out / "truth").mkdir(parents=True, exist_ok=True)
    truth.write_parquet(out / "truth" / "cot.parquet")
    return truth
