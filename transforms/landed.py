"""The landed-folder contract: the small JSON records a client leaves beside what it landed.

Two kinds of unit are not one file, and say what they hold in a record of their own:

- a day of hourly objects (Hyperliquid's fills, ``…/YYYYMMDD/``): ``hours.json`` lists each hour
  landed (``{"hours": {"<hour>": {"path": <key under raw/<exchange>/>, "sha256": …}},
  "missing": [<hour>, …]}``); the hours missing are asked for again next time;
- a weekly report held in a file that grows or rolls over (CFTC's ``weeks/YYYYMMDD``):
  ``week.json`` names the file that holds the report (``{"file": <path under raw/<exchange>/>,
  "sha256": …}``).

The object client writes these records (:mod:`transforms.objects`); the plug-ins' parsers and
resume read them, through the readers here, so the layout is spelled once.
"""

import hashlib
import json
from pathlib import Path
from typing import Any, Final

HOURS_FILE: Final = "hours.json"
WEEK_FILE: Final = "week.json"

LandedHours = dict[str, dict[str, str]]
"""``{"<hour>": {"path": …, "sha256": …}}``: the hours of a day that landed."""


def hours_record(landed: LandedHours, missing: list[int]) -> dict[str, object]:
    """The ``hours.json`` of a day: the hours landed and the hours the store did not have."""
    return {"hours": landed, "missing": missing}


def hours_digest(landed: LandedHours) -> str:
    """The sha256 of a day of hourly objects: the digest of its hours' paths and sha256s."""
    lines = "".join(f"{item['path']}:{item['sha256']}\n" for item in landed.values())
    return hashlib.sha256(lines.encode()).hexdigest()


def hours_of(record: dict[str, Any]) -> tuple[LandedHours, list[int]]:
    """The hours landed and the hours missing, from a day's ``hours.json`` record."""
    landed: LandedHours = record["hours"]
    missing: list[int] = record["missing"]
    return landed, missing


def read_hours(folder: Path) -> tuple[LandedHours, list[int]]:
    """The hours landed and the hours missing of a day landed in a local folder (a parser's
    copy: clients read the record through :mod:`transforms.storage`)."""
    return hours_of(json.loads((folder / HOURS_FILE).read_text()))


def missing_hours(folder: Path) -> list[int]:
    """The hours of a landed day of hourly objects that the store did not have."""
    return read_hours(folder)[1]


def landed_hours(folder: Path, raw_root: Path) -> list[Path]:
    """The hourly objects of a landed day (each at its key under ``raw_root``), in hour order."""
    found = read_hours(folder)[0]
    return [raw_root / found[hour]["path"] for hour in sorted(found, key=int)]


def week_record(held_in: str, sha256: str) -> dict[str, str]:
    """The ``week.json`` of a report day: the file that holds the report, and its sha256."""
    return {"file": held_in, "sha256": sha256}


def week_file(folder: Path) -> str:
    """The file (a path under ``raw/<exchange>/``) a landed report day's ``week.json`` names."""
    held_in: str = json.loads((folder / WEEK_FILE).read_text())["file"]
    return held_in
