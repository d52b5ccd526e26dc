"""Runtime configuration: the warehouse root, the archive URL, the symbol universe and limits.

Everything comes from the environment with documented defaults, so the same code runs the daily
schedule, the CLI and the tests; callers may override any field.
"""

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final

from transforms.endpoints import RateLimit
from transforms.errors import ConfigError
from transforms.publication import PublicationDelays
from transforms.publish import temp_dir
from transforms.sources import EXCHANGES, VENUES

RAW_FOLDER: Final = "raw"
RECORDER_FOLDER: Final = "recorder"
LAKE_FOLDER: Final = "lake"
MANIFESTS_FOLDER: Final = "manifests"
QUARANTINE_FOLDER: Final = "quarantine"
REPORTS_FOLDER: Final = "reports"
STATE_FOLDER: Final = "state"
CATALOG_FILE: Final = "catalog.duckdb"
"""The warehouse's layout, spelled here only: every other module asks :class:`Settings` for a
root (the temporary folder's name belongs to :mod:`transforms.publish`)."""

DEFAULT_BINANCE_URL: Final = "https://data.binance.vision/"
DEFAULT_UNIVERSE: Final = (
    "binance_um:BTCUSDT,ETHUSDT,SOLUSDT;binance_cm:BTCUSD_PERP;binance_spot:BTCUSDT,ETHUSDT,SOLUSDT"
)

# Symbols reach file paths and URLs, so only exchange-style tickers pass: no dots, no slashes.
# OKX instrument ids have dashes (BTC-USDT-SWAP); COIN-M symbols an underscore (BTCUSD_PERP).
SYMBOL_PATTERN: Final = re.compile(r"[A-Z0-9]{2,30}(?:[-_][A-Z0-9]{1,12}){0,2}")
URL_SCHEMES: Final = ("https://", "http://", "file://")
DEFAULT_HYPERLIQUID_URL: Final = "s3://"
"""Hyperliquid's requester-pays buckets themselves (credentials from the AWS environment)."""
DEFAULT_CFTC_URL: Final = "https://www.cftc.gov/"
"""CFTC's site: the Commitments of Traders files (``files/dea/history/``, ``dea/newcot/``)."""

Universe = dict[str, tuple[str, ...]]

SCHEDULE_TIME_ENV: Final = "TREADMILL_SCHEDULE_TIME"
DEFAULT_SCHEDULE_TIME: Final = "07:30"
"""When the daily run starts (UTC): after Binance publishes the previous day's files, which it
does from about 06:00 UTC on T+1 (FORMATS.md §1.2)."""
_SCHEDULE_TIME = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")


def parse_universe(text: str) -> Universe:
    """Parse ``binance_um:BTCUSDT,ETHUSDT;binance_cm:BTCUSD_PERP`` into exchange → symbols.

    Exchanges and symbols are checked against strict patterns because they become parts of
    paths and URLs; an unknown exchange or a malformed symbol is a configuration error.
    """
    universe: Universe = {}
    for chunk in filter(None, (part.strip() for part in text.split(";"))):
        exchange, sep, symbols_text = chunk.partition(":")
        exchange = exchange.strip()
        if not sep:
            raise ConfigError(f"universe entry {chunk!r} must look like exchange:SYMBOL[,SYMBOL]")
        symbols = tuple(s.strip() for s in symbols_text.split(",") if s.strip())
        check_universe({exchange: symbols})
        if not symbols:
            raise ConfigError(f"universe entry {chunk!r} lists no symbols")
        universe[exchange] = tuple(dict.fromkeys(universe.get(exchange, ()) + symbols))
    if not universe:
        raise ConfigError("the universe is empty")
    return universe


def check_universe(universe: Universe) -> Universe:
    """Hold an already-split universe to the rules of :func:`parse_universe`."""
    for exchange, symbols in universe.items():
        if exchange not in EXCHANGES:
            raise ConfigError(
                f"universe names unknown exchange {exchange!r}; known: {', '.join(EXCHANGES)}"
            )
        for symbol in symbols:
            if not SYMBOL_PATTERN.fullmatch(symbol):
                raise ConfigError(f"universe symbol {symbol!r} of {exchange} is not a valid ticker")
    return universe


def schedule_time(text: str | None = None) -> tuple[int, int]:
    """The daily run's (hour, minute) in UTC from ``HH:MM``; default ``$TREADMILL_SCHEDULE_TIME``
    or 07:30."""
    value = (text or os.environ.get(SCHEDULE_TIME_ENV) or DEFAULT_SCHEDULE_TIME).strip()
    match = _SCHEDULE_TIME.fullmatch(value)
    if match is None:
        raise ConfigError(f"{SCHEDULE_TIME_ENV} {value!r} must be a UTC time of day, HH:MM")
    return int(match.group(1)), int(match.group(2))


def format_universe(universe: Universe) -> str:
    """The inverse of :func:`parse_universe`."""
    return ";".join(f"{exchange}:{','.join(symbols)}" for exchange, symbols in universe.items())


def check_base_url(url: str) -> str:
    """Accept ``https://``, ``http://`` and ``file://`` archive roots; always end with ``/``."""
    if not url.startswith(URL_SCHEMES):
        raise ConfigError(f"archive URL {url!r} must start with one of {', '.join(URL_SCHEMES)}")
    return url if url.endswith("/") else url + "/"


def venue_urls_from_env(overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Each REST venue's base URL: ``overrides``, else ``TREADMILL_<VENUE>_URL``, else public."""
    overrides = overrides or {}
    unknown = set(overrides) - {venue.key for venue in VENUES}
    if unknown:
        raise ConfigError(f"unknown REST venue(s) {sorted(unknown)}")
    return {
        venue.key: check_base_url(
            overrides.get(venue.key) or os.environ.get(venue.url_env) or venue.default_url
        )
        for venue in VENUES
    }


def venue_rates_from_env(overrides: dict[str, str] | None = None) -> dict[str, RateLimit]:
    """Each REST venue's request pace: ``overrides``, else ``TREADMILL_<VENUE>_RATE``
    (``REQUESTS/SECONDS``), else the venue's documented limit."""
    overrides = overrides or {}
    rates = {}
    for venue in VENUES:
        text = overrides.get(venue.key) or os.environ.get(venue.rate_env)
        try:
            rates[venue.key] = RateLimit.parse(text) if text else venue.rate_limit
        except ValueError as exc:
            raise ConfigError(f"{venue.rate_env}: {exc}") from exc
    return rates


def parse_pairs(text: str) -> dict[str, str]:
    """``bitmex=http://127.0.0.1:8000/bitmex/;bybit=…`` → {venue: value}."""
    pairs = {}
    for chunk in filter(None, (part.strip() for part in text.split(";"))):
        key, sep, value = chunk.partition("=")
        if not sep or not value.strip():
            raise ConfigError(f"entry {chunk!r} must look like venue=value")
        pairs[key.strip()] = value.strip()
    return pairs


def format_pairs(pairs: Mapping[str, object]) -> str:
    """The inverse of :func:`parse_pairs`."""
    return ";".join(f"{key}={value}" for key, value in pairs.items())


def check_hyperliquid_url(url: str) -> str:
    """``s3://`` or a mirror root as :func:`check_base_url` accepts it."""
    return url if url == DEFAULT_HYPERLIQUID_URL else check_base_url(url)


@dataclass(frozen=True)
class Limits:
    """Safety limits and retry behaviour of downloads."""

    max_download_bytes: int = 512 * 1024**2
    max_uncompressed_bytes: int = 2 * 1024**3
    timeout_seconds: float = 60.0
    max_attempts: int = 5
    backoff_initial_seconds: float = 1.0
    backoff_max_seconds: float = 30.0
    concurrency: int = 8


def warehouse_root() -> Path:
    """``$TREADMILL_WAREHOUSE``, or ``./warehouse`` from the working directory, made absolute."""
    return Path(os.environ.get("TREADMILL_WAREHOUSE") or "warehouse").resolve()


@dataclass(frozen=True)
class Settings:
    """Where the warehouse lives, where the archive is, and what to pull from it."""

    warehouse: Path
    binance_url: str = DEFAULT_BINANCE_URL
    universe: Universe = field(default_factory=lambda: parse_universe(DEFAULT_UNIVERSE))
    limits: Limits = field(default_factory=Limits)
    venue_urls: dict[str, str] = field(default_factory=venue_urls_from_env)
    """Base URL of each REST venue (:data:`transforms.sources.VENUES`)."""
    venue_rates: dict[str, RateLimit] = field(default_factory=venue_rates_from_env)
    """The pace the client keeps to at each REST venue."""
    hyperliquid_url: str = field(
        default_factory=lambda: check_hyperliquid_url(
            os.environ.get("TREADMILL_HYPERLIQUID_URL") or DEFAULT_HYPERLIQUID_URL
        )
    )
    """Hyperliquid's archive: ``s3://`` (its buckets) or a mirror of ``<bucket>/<key>``."""
    publication_delays: PublicationDelays = field(default_factory=PublicationDelays.from_env)
    """When each source's data for a day is due (:mod:`transforms.publication`)."""
    cftc_url: str = field(
        default_factory=lambda: check_base_url(
            os.environ.get("TREADMILL_CFTC_URL") or DEFAULT_CFTC_URL
        )
    )
    """CFTC's site or a mirror of its paths (``https://``, ``http://`` or ``file://``)."""

    def __post_init__(self) -> None:
        # Built by hand as well as from text: exchanges and symbols reach paths and URLs either
        # way, so they are checked here too.
        check_universe(self.universe)

    @classmethod
    def from_env(
        cls,
        warehouse: str | Path | None = None,
        binance_url: str | None = None,
        universe: str | None = None,
        venue_urls: str | None = None,
        venue_rates: str | None = None,
        hyperliquid_url: str | None = None,
        cftc_url: str | None = None,
    ) -> "Settings":
        """Settings from ``TREADMILL_*`` variables, with explicit arguments taking precedence.

        ``venue_urls`` and ``venue_rates`` are ``venue=value;…`` overrides of single venues.
        """
        url = binance_url or os.environ.get("TREADMILL_BINANCE_URL") or DEFAULT_BINANCE_URL
        universe_text = universe or os.environ.get("TREADMILL_UNIVERSE") or DEFAULT_UNIVERSE
        return cls(
            warehouse=Path(warehouse).resolve() if warehouse else warehouse_root(),
            binance_url=check_base_url(url),
            universe=parse_universe(universe_text),
            venue_urls=venue_urls_from_env(parse_pairs(venue_urls or "")),
            venue_rates=venue_rates_from_env(parse_pairs(venue_rates or "")),
            hyperliquid_url=check_hyperliquid_url(
                hyperliquid_url
                or os.environ.get("TREADMILL_HYPERLIQUID_URL")
                or DEFAULT_HYPERLIQUID_URL
            ),
            cftc_url=check_base_url(
                cftc_url or os.environ.get("TREADMILL_CFTC_URL") or DEFAULT_CFTC_URL
            ),
        )

    def with_limits(self, **changes: float) -> "Settings":
        """A copy with some limits changed (tests use short timeouts and backoffs)."""
        return replace(self, limits=replace(self.limits, **changes))  # type: ignore[arg-type]

    @property
    def raw_root(self) -> Path:
        """Every source file as it was fetched, verbatim: ``raw/<exchange>/<archive path>``."""
        return self.warehouse / RAW_FOLDER

    @property
    def recorder_root(self) -> Path:
        """What ``treadmill record`` wrote: ``<raw>/recorder/<venue>/<YYYY-MM-DD>/HH.jsonl``."""
        return self.raw_root / RECORDER_FOLDER

    @property
    def lake_root(self) -> Path:
        """The published tables: ``lake/<table>/date=YYYY-MM-DD/data.parquet``."""
        return self.warehouse / LAKE_FOLDER

    @property
    def manifest_root(self) -> Path:
        """Each staged partition's record of what happened per symbol (:mod:`~.manifests`)."""
        return self.warehouse / MANIFESTS_FOLDER

    @property
    def quarantine_root(self) -> Path:
        """What failed a gate, with its report (:mod:`transforms.quarantine`)."""
        return self.warehouse / QUARANTINE_FOLDER

    @property
    def report_root(self) -> Path:
        """The charts each run draws: ``reports/<coin>/``."""
        return self.warehouse / REPORTS_FOLDER

    @property
    def build_record_root(self) -> Path:
        """What each completed day was built from, for resume: ``state/materialized/``."""
        return self.warehouse / STATE_FOLDER / "materialized"

    @property
    def catalog_path(self) -> Path:
        """The DuckDB catalog of views over the lake that users and BI tools open read-only."""
        return self.warehouse / CATALOG_FILE

    @property
    def temp_root(self) -> Path:
        """Files being written, outside the lake; see :mod:`transforms.publish`."""
        return temp_dir(self.warehouse)

    def fallback_url(self, venue_key: str, default_url: str) -> str | None:
        """The REST URL an archive's fallback may ask, or None when it must not ask any.

        A fallback follows its archive: against the public archive it asks the venue's public
        API; against a mirror (``file://``, ``http://127.0.0.1``) only a REST URL configured
        for it (``TREADMILL_<VENUE>_URL``), so that a mirror is never mixed with live data and
        an offline run never waits on a host it cannot reach.
        """
        url = self.venue_urls[venue_key]
        if url == default_url and self.binance_url != DEFAULT_BINANCE_URL:
            return None
        return url

    def symbols(self, exchange: str) -> tuple[str, ...]:
        """The symbols of ``exchange`` in the universe; empty when the exchange is not in it."""
        return self.universe.get(exchange, ())
