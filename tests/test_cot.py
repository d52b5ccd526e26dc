"""CFTC's Commitments of Traders: parsing each era's files, the re-fetch rule, staging through a
real HTTP server on 127.0.0.1 serving the simulator's tree, and ``fct_cot_weekly`` against the
simulator's truth."""

import io
import json
import os
import zipfile
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from simulator.cot import write_cot
from tests.archive_server import ArchiveServer
from transforms.clients import CFTC_WEEKLY
from transforms.coverage import coverage_rows
from transforms.errors import ParseError
from transforms.fact_checks import run_fact_checks
from transforms.facts import FCT_COT_WEEKLY, build_fact
from transforms.landed import WEEK_FILE, week_record
from transforms.manifests import read_manifest
from transforms.objects import ObjectStoreClient
from transforms.publish import PARTITION_FILE, partition_dir
from transforms.quarantine import quarantine_paths
from transforms.settings import Settings
from transforms.sources import cftc, dataset
from transforms.staging import stage_dataset

COT = dataset("cftc", "cot_tff")
UNIVERSE: dict[str, tuple[str, ...]] = {"cftc": ("133741", "133742")}
TUESDAY = date(2024, 3, 26)
BTC = (
    "BITCOIN - CHICAGO MERCANTILE EXCHANGE",
    "240326",
    "2024-03-26",
    "133741",
    "CME",
    "00",
    "133",
    "26032",
    *("969", "2272", "640"),
    *("8719", "1851", "450"),
    *("3857", "15339", "176"),
    *("2967", "1662", "580"),
    *("18358", "22970", "7674", "3062"),
)
EURO = ("EURO FX - CHICAGO MERCANTILE EXCHANGE", "240326", "2024-03-26", "099741", *BTC[4:])


def _line(values: tuple[str, ...] | list[str]) -> str:
    return ",".join(f'"{v}"' for v in values) + "\n"


CURRENT = [
    "Market_and_Exchange_Names",
    "As_of_Date_In_Form_YYMMDD",
    "Report_Date_as_YYYY-MM-DD",
    "CFTC_Contract_Market_Code",
    "CFTC_Market_Code",
    "CFTC_Region_Code",
    "CFTC_Commodity_Code",
    "Open_Interest_All",
    *(
        f"{who}_Positions_{side}_All"
        for who in ("Dealer", "Asset_Mgr", "Lev_Money", "Other_Rept")
        for side in ("Long", "Short", "Spread")
    ),
    "Tot_Rept_Positions_Long_All",
    "Tot_Rept_Positions_Short_All",
    "NonRept_Positions_Long_All",
    "NonRept_Positions_Short_All",
]


def _zip(path: Path, member: str, text: str) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(member, text)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return path


def _unit(raw: Path, held_in: str, day: date = TUESDAY) -> Path:
    folder = raw / cftc.week_path("", day)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / WEEK_FILE).write_text(json.dumps(week_record(held_in, "x")))
    return folder


def _parse(raw: Path, held_in: str) -> dict[str, dict[str, object]]:
    parsed = cftc.parse_week(COT, UNIVERSE["cftc"], _unit(raw, held_in), "weeks/x", TUESDAY)
    assert parsed.table.schema.names[:4] == ["exchange", "symbol", "as_of", "report_date"]
    return {row["symbol"]: row for row in parsed.table.to_pylist()}


EXPECTED = {
    "market_name": "BITCOIN - CHICAGO MERCANTILE EXCHANGE",
    "as_of": datetime(2024, 3, 26, tzinfo=UTC),
    "report_date": date(2024, 3, 29),
    "contract_size": 5.0,
    "open_interest": 26032.0,
    "dealer_long": 969.0,
    "dealer_spreading": 640.0,
    "asset_manager_long": 8719.0,
    "leveraged_funds_short": 15339.0,
    "other_reportable_spreading": 580.0,
    "nonreportable_long": 7674.0,
    "nonreportable_short": 3062.0,
    "source_file": "",
}


def _check(row: dict[str, object], source_file: str) -> None:
    assert {k: row[k] for k in EXPECTED} == {**EXPECTED, "source_file": source_file}


def test_the_current_header_is_read_by_name(tmp_path: Path) -> None:
    held_in = cftc.year_file(2024)
    # The market rows of other weeks and markets are left out.
    other_week = (BTC[0], "240319", "2024-03-19", *BTC[3:])
    text = _line(CURRENT) + _line(EURO) + _line(other_week) + _line(BTC)
    _zip(tmp_path / held_in, "FinFut24.txt", text)
    rows = _parse(tmp_path, held_in)
    assert set(rows) == {"133741"}
    _check(rows["133741"], held_in)


def test_an_older_header_with_spaces_other_date_and_order_is_read_by_name(
    tmp_path: Path,
) -> None:
    # Spaces for underscores, the as-of date as MM/DD/YYYY, non-reportables moved first.
    order = [*range(7), 7, 22, 23, *range(8, 22)]
    names = [CURRENT[i].replace("_", " ") for i in order]
    names[2] = "Report_Date_as_MM_DD_YYYY"
    values = [BTC[i] for i in order]
    values[2] = "03/26/2024"
    held_in = cftc.year_file(2023)
    _zip(tmp_path / held_in, "FinFut23.txt", _line(names) + _line(values))
    rows = _parse(tmp_path, held_in)
    _check(rows["133741"], held_in)


def test_the_headerless_weekly_file_is_read_in_the_documented_order(tmp_path: Path) -> None:
    micro = ("MICRO BITCOIN - CHICAGO MERCANTILE EXCHANGE", "240326", "2024-03-26", "133742")
    path = tmp_path / cftc.CURRENT_WEEK
    path.parent.mkdir(parents=True)
    # Unquoted numbers, padded codes and trailing columns, as the real file has them.
    tail = ',0,"(CONTRACTS OF 5 BITCOINS)","FutOnly"\n'
    path.write_text(
        _line(BTC).rstrip("\n") + tail + ",".join(f'"{v}"' for v in (*micro, *BTC[4:])) + tail
    )
    rows = _parse(tmp_path, cftc.CURRENT_WEEK)
    _check(rows["133741"], cftc.CURRENT_WEEK)
    assert rows["133742"]["contract_size"] == 0.1


@pytest.mark.parametrize(
    ("body", "check"),
    [
        ("zip of two", "zip_member"),
        ('"Market_and_Exchange_Names","Open_Interest_All"\n"X",1\n', "csv_columns"),
        ("<!DOCTYPE html><html>busy</html>", "csv_columns"),
    ],
)
def test_a_bad_file_is_a_parse_error_naming_it(tmp_path: Path, body: str, check: str) -> None:
    held_in = cftc.year_file(2024) if body == "zip of two" else cftc.CURRENT_WEEK
    path = tmp_path / held_in
    path.parent.mkdir(parents=True, exist_ok=True)
    if body == "zip of two":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("a.txt", "x")
            archive.writestr("b.txt", "y")
    else:
        path.write_text(body)
    with pytest.raises(ParseError, match=held_in) as error:
        _parse(tmp_path, held_in)
    assert error.value.check == check


def test_release_times_and_closed_years() -> None:
    assert cftc.report_date(TUESDAY) == date(2024, 3, 29)
    assert cftc.next_release(datetime(2024, 3, 27, tzinfo=UTC)) == datetime(
        2024, 3, 29, 20, 30, tzinfo=UTC
    )
    assert cftc.next_release(datetime(2024, 3, 29, 20, 30, tzinfo=UTC)) == datetime(
        2024, 4, 5, 20, 30, tzinfo=UTC
    )
    assert cftc.closed_at(cftc.year_file(2023)) == datetime(2024, 2, 1, tzinfo=UTC)
    assert cftc.closed_at(cftc.CURRENT_WEEK) is None
    assert COT.is_available(TUESDAY)
    assert not COT.is_available(TUESDAY + timedelta(days=1))


# Staging from the simulator's tree through a real HTTP server


@pytest.fixture
def mirror(tmp_path: Path) -> tuple[Path, pl.DataFrame]:
    truth = write_cot(tmp_path / "mirror", date(2024, 3, 1), date(2024, 3, 31), seed=3)
    return tmp_path / "mirror" / "cftc", truth


def _settings(tmp_path: Path, url: str) -> Settings:
    return Settings(warehouse=tmp_path / "warehouse", universe=UNIVERSE, cftc_url=url)


def _client(settings: Settings, now: datetime) -> ObjectStoreClient:
    return ObjectStoreClient(
        settings.cftc_url,
        settings.raw_root / "cftc",
        settings.limits,
        settings.temp_root,
        weekly=CFTC_WEEKLY,
        now=lambda: now,
    )


NOW = datetime(2024, 4, 3, tzinfo=UTC)


def test_staged_through_http_and_facts_equal_the_truth(
    tmp_path: Path, mirror: tuple[Path, pl.DataFrame]
) -> None:
    root, truth = mirror
    days = [date(2024, 3, 1) + timedelta(days=n) for n in range(31)]
    with ArchiveServer(root) as server:
        settings = _settings(tmp_path, server.base_url)
        with _client(settings, NOW) as client:
            partitions = stage_dataset(COT, days, settings, client)
        requests = Counter(server.requested())
    # Each file is fetched once for the whole range.
    assert requests == {cftc.year_file(2024): 1, cftc.CURRENT_WEEK: 1}
    tuesdays = [d for d in days if d.weekday() == 1]
    published = {p.day: p for p in partitions if p.path is not None}
    assert sorted(published) == tuesdays
    # The last week is only in the current week's file; the others in the year's.
    assert {p.day: p.symbols[0].source_file for p in published.values()}[tuesdays[-1]] == (
        "weeks/20240326"
    )
    last = pq.read_table(published[tuesdays[-1]].path)
    assert set(last["source_file"].to_pylist()) == {cftc.CURRENT_WEEK}
    first = pq.read_table(published[tuesdays[0]].path)
    assert set(first["source_file"].to_pylist()) == {cftc.year_file(2024)}

    built = []
    for day in tuesdays:
        fact = build_fact(FCT_COT_WEEKLY, day, settings.lake_root, settings.manifest_root)
        assert all(o.passed for o in run_fact_checks(FCT_COT_WEEKLY, fact, day, settings.lake_root))
        built.append(pl.DataFrame(fact))
    facts = pl.concat(built).sort("symbol", "as_of")
    expected = truth.filter(
        pl.col("symbol").is_in(UNIVERSE["cftc"]), pl.col("as_of").is_in(tuesdays)
    ).sort("symbol", "as_of")
    assert facts.height == expected.height == 2 * len(tuesdays)
    assert set(facts["exchange"]) == {"cme"}
    assert facts["as_of"].dt.date().to_list() == expected["as_of"].to_list()
    assert facts["report_date"].to_list() == expected["report_date"].to_list()
    for column in ("open_interest", "dealer_long", "leveraged_funds_short", "nonreportable_long"):
        assert facts[column].to_list() == [float(v) for v in expected[column]]
        btc = (expected[column] * expected["contract_size"]).to_list()
        assert facts[f"{column}_btc"].to_list() == pytest.approx(btc)
    bitcoin = facts.filter(pl.col("symbol") == "133741")["open_interest"].to_list()
    assert all(10_000 < contracts < 50_000 for contracts in bitcoin)

    # A day that is not a Tuesday is not published, not missing.
    cells = coverage_rows(settings, date(2024, 3, 27), NOW).to_pylist()
    assert {(c["dataset"], c["status"]) for c in cells} == {("cot_tff", "not_published")}
    cells = coverage_rows(settings, tuesdays[0], NOW).to_pylist()
    assert {c["status"] for c in cells} == {"ok"}


def test_a_bad_file_is_quarantined_with_its_name(
    tmp_path: Path, mirror: tuple[Path, pl.DataFrame]
) -> None:
    root, _ = mirror
    (root / cftc.year_file(2024)).write_bytes(b"PK\x03\x04 torn")
    with ArchiveServer(root) as server:
        settings = _settings(tmp_path, server.base_url)
        with _client(settings, NOW) as client:
            (partition,) = stage_dataset(COT, [date(2024, 3, 5)], settings, client)
    assert {s.status for s in partition.symbols} == {"quarantined"}
    assert cftc.year_file(2024) in (partition.symbols[0].error or "")
    report = json.loads(quarantine_paths(settings, COT, date(2024, 3, 5), "133741")[1].read_text())
    assert report["checks_failed"] == ["zip_member"]
    assert cftc.year_file(2024) in json.dumps(report["failures"])
    manifest = read_manifest(settings.manifest_root, COT.table, date(2024, 3, 5))
    assert manifest is not None
    cells = coverage_rows(settings, date(2024, 3, 5), NOW).to_pylist()
    assert {c["status"] for c in cells} == {"quarantined"}


def test_the_current_years_file_is_fetched_again_after_a_release_a_closed_one_never(
    tmp_path: Path, mirror: tuple[Path, pl.DataFrame]
) -> None:
    root, _ = mirror
    day = date(2024, 3, 5)
    with ArchiveServer(root) as server:
        settings = _settings(tmp_path, server.base_url)
        with _client(settings, NOW) as client:
            stage_dataset(COT, [day], settings, client)
        landed = settings.raw_root / "cftc" / cftc.year_file(2024)
        # Landed before Friday's release: out of date once it is out.
        before = datetime(2024, 3, 28, tzinfo=UTC).timestamp()
        os.utime(landed, (before, before))
        with _client(settings, datetime(2024, 3, 29, 12, tzinfo=UTC)) as client:
            stage_dataset(COT, [day], settings, client)
        assert server.count(cftc.year_file(2024)) == 1
        with _client(settings, datetime(2024, 3, 29, 21, tzinfo=UTC)) as client:
            stage_dataset(COT, [day], settings, client)
        assert server.count(cftc.year_file(2024)) == 2
        # Landed after the year closed: never asked again.
        closed = datetime(2025, 2, 2, tzinfo=UTC).timestamp()
        os.utime(landed, (closed, closed))
        with _client(settings, datetime(2026, 1, 1, tzinfo=UTC)) as client:
            stage_dataset(COT, [day], settings, client)
        assert server.count(cftc.year_file(2024)) == 2


def test_a_tuesday_not_out_yet_is_pending(
    tmp_path: Path, mirror: tuple[Path, pl.DataFrame]
) -> None:
    root, _ = mirror
    day = date(2024, 4, 2)
    with ArchiveServer(root) as server:
        settings = _settings(tmp_path, server.base_url)
        with _client(settings, NOW) as client:
            (partition,) = stage_dataset(COT, [day], settings, client)
    assert {s.status for s in partition.symbols} == {"not_published"}
    cells = coverage_rows(settings, day, NOW).to_pylist()
    assert {c["status"] for c in cells} == {"pending"}
    assert (partition_dir(settings.lake_root, COT.table, day) / PARTITION_FILE).exists()
