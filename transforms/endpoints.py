"""How a paged REST history endpoint is declared: its venue, paging, rate limit and page shape.

A venue that publishes no dump files still answers history requests page by page. An
:class:`Endpoint` declares everything the paging client (:mod:`transforms.history`) needs and
nothing it must guess:

- where: the path under the venue's base URL (configuration, ``TREADMILL_<VENUE>_URL``, so a
  ``http://127.0.0.1:PORT/`` mirror goes through the same code);
- how it pages: forward by time (oldest rows first, the next page starts after the last row),
  backward by time (newest rows first, the next page ends before the oldest row) or by an opaque
  page token; and the most rows a page may hold;
- how fast: the venue's documented rate limit, which the client paces itself to;
- how to read a page: the records, the instant of each, and the next page token;
- how to turn the records of a range into the dataset's canonical Arrow table.

These are the words every layer shares (plug-ins declare endpoints, configuration reads the
venues' rate limits, the client pages through them); the venue plug-ins and their shared helpers
live in :mod:`transforms.sources`.
"""

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa


class Paging(enum.StrEnum):
    """How an endpoint walks through a time range."""

    FORWARD_TIME = "forward_time"
    """Oldest rows first; the next page starts 1 ms after the last row."""
    BACKWARD_TIME = "backward_time"
    """Newest rows first; the next page ends 1 ms before the oldest row."""
    PAGE_TOKEN = "page_token"
    """The same range each time, continued by the token the previous page returned."""


@dataclass(frozen=True)
class RateLimit:
    """At most ``requests`` requests every ``per_seconds`` seconds."""

    requests: int
    per_seconds: float

    @property
    def interval(self) -> float:
        """Seconds between two requests when they are spread evenly."""
        return self.per_seconds / self.requests

    @classmethod
    def parse(cls, text: str) -> "RateLimit":
        """``"30/60"`` → 30 requests per 60 seconds."""
        requests, _, seconds = text.partition("/")
        try:
            limit = cls(int(requests), float(seconds or 1))
        except ValueError as exc:
            raise ValueError(f"rate limit {text!r} must look like REQUESTS/SECONDS") from exc
        if limit.requests <= 0 or limit.per_seconds <= 0:
            raise ValueError(f"rate limit {text!r} must be positive")
        return limit

    def __str__(self) -> str:
        return f"{self.requests}/{self.per_seconds:g}"


class PageShapeError(ValueError):
    """A page body is valid JSON but not the shape the endpoint documents."""


class RateLimitedError(PageShapeError):
    """The venue said "too many requests" inside a well-formed body (Bybit ``retCode`` 10006,
    OKX ``code`` 50011): retried like an HTTP 429."""


@dataclass(frozen=True)
class PageContent:
    """What a page holds, as the paging client needs it."""

    records: Sequence[Any]
    instants_ms: Sequence[int]
    """The instant of each record, epoch milliseconds, in the records' order."""
    next_token: str | None = None
    """The page token that continues the range (``PAGE_TOKEN`` paging); None or "" ends it."""


Query = Callable[[str, int, int, int, str | None], dict[str, str]]
"""(symbol, start ms, end ms — both inclusive, page size, page token) → query parameters."""
Unpack = Callable[[Any], PageContent]
"""Decoded JSON body → its records; raises :class:`PageShapeError` on an unexpected shape."""
ToTable = Callable[[Sequence[Any], str, str, str], pa.Table]
"""(records of a whole range, exchange, symbol, source_file) → the canonical staged table."""


@dataclass(frozen=True)
class Venue:
    """A REST host: its configuration variable, public URL and documented rate limit.

    Endpoints of one venue share its rate limit: the client paces every request to it together.
    """

    key: str
    default_url: str
    rate_limit: RateLimit

    @property
    def url_env(self) -> str:
        return f"TREADMILL_{self.key.upper()}_URL"

    @property
    def rate_env(self) -> str:
        return f"TREADMILL_{self.key.upper()}_RATE"


@dataclass(frozen=True)
class Endpoint:
    """One paged history endpoint of a venue; see the module docstring."""

    venue: Venue
    name: str
    """The folder its pages land in under ``raw/<exchange>/``."""
    path: str
    page_limit: int
    paging: Paging
    query: Query
    unpack: Unpack
    to_table: ToTable
    step_ms: int
    """The widest regular gap between two rows (5 minutes for open interest, 8 hours for
    funding). An empty page that leaves more than this uncovered at the range's edge is a gap in
    the middle of the range, not its end."""

    def source_file(self, symbol: str, period: str) -> str:
        """The ``source_file`` lineage of rows from a chunk: the endpoint and its range."""
        return f"{self.path}?symbol={symbol}&period={period}"
