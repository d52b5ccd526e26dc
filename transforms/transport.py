"""The one HTTP transport of the archive and REST clients: how they connect and when they retry.

Both clients (:mod:`transforms.fetch`, :mod:`transforms.history`) talk through an
:func:`http_client` (the ``Limits`` timeout and connection cap, redirects followed, the
``treadmill`` User-Agent) and send each request under :func:`with_retries`: a
:class:`TransientError` (a 429, a 5xx, a timeout, a reset, a body cut short) is asked again with
exponential backoff and full jitter, at most ``Limits.max_attempts`` times, then becomes a
transient :class:`~transforms.errors.FetchError` naming the URL. Every other problem is a
``FetchError`` at once. Where a venue's pace is kept (the REST pacer), the ``Retry-After`` it names
holds every request back instead of the backoff.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import httpx
import tenacity

from transforms.errors import FetchError
from transforms.settings import Limits

USER_AGENT = "treadmill"
DEFAULT_RETRY_AFTER = 1.0
"""Seconds to wait on a 429 whose ``Retry-After`` is missing or unreadable."""
T = TypeVar("T")


class TransientError(Exception):
    """A failure worth retrying; carries the message for the final error.

    ``retry_after`` is the wait the venue asked for, if it did.
    """

    def __init__(self, problem: str, retry_after: float | None = None) -> None:
        super().__init__(problem)
        self.retry_after = retry_after


def http_client(
    limits: Limits, *, accept: str | None = None, verbatim: bool = False
) -> httpx.Client:
    """A client held to ``limits``: its timeout, at most ``concurrency`` connections.

    ``verbatim`` asks for bodies without transfer compression, so that Content-Length describes
    the bytes that are verified (an archive file against its CHECKSUM); ``accept`` is the media
    type a REST venue is asked for.
    """
    headers = {"User-Agent": USER_AGENT}
    if accept is not None:
        headers["Accept"] = accept
    if verbatim:
        headers["Accept-Encoding"] = "identity"
    return httpx.Client(
        timeout=limits.timeout_seconds,
        follow_redirects=True,
        limits=httpx.Limits(max_connections=limits.concurrency),
        headers=headers,
    )


def with_retries(
    limits: Limits,
    url: str,
    attempt: Callable[[], T],
    *,
    hold: Callable[[float], None] | None = None,
) -> T:
    """``attempt()``, asked again on :class:`TransientError` within ``limits``.

    Between attempts it backs off (exponentially, full jitter, capped). When the failure names
    a ``retry_after`` and a ``hold`` is given, the wait is handed to ``hold`` instead (a pacer
    that holds the venue's every request back) and the retry itself waits no longer. The last
    transient failure becomes a transient :class:`FetchError` naming ``url``.
    """
    backoff = tenacity.wait_random_exponential(
        multiplier=limits.backoff_initial_seconds, max=limits.backoff_max_seconds
    )

    def wait(state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if hold is not None and isinstance(error, TransientError) and error.retry_after is not None:
            hold(error.retry_after)
            return 0.0
        return float(backoff(state))

    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(limits.max_attempts),
        wait=wait,
        retry=tenacity.retry_if_exception_type(TransientError),
        reraise=True,
    )
    try:
        return retrying(attempt)
    except TransientError as exc:
        raise FetchError(
            url, f"gave up after {limits.max_attempts} attempts: {exc}", transient=True
        ) from exc


@contextmanager
def http_errors(url: str) -> Iterator[None]:
    """httpx's failures as ours: a transport failure (timeout, reset) is worth retrying, any
    other is a :class:`FetchError` naming ``url``."""
    try:
        yield
    except httpx.TransportError as exc:
        raise TransientError(f"{type(exc).__name__}: {exc}") from exc
    except httpx.HTTPError as exc:
        raise FetchError(url, f"{type(exc).__name__}: {exc}") from exc


def raise_if_transient(response: httpx.Response) -> None:
    """Raise :class:`TransientError` for an answer worth asking again: a 429 (with the wait its
    ``Retry-After`` names) or a 5xx."""
    if response.status_code == 429:
        raise TransientError("HTTP 429", retry_after(response.headers.get("retry-after")))
    if response.status_code >= 500:
        raise TransientError(f"HTTP {response.status_code}")


def retry_after(value: str | None) -> float:
    """Seconds from a ``Retry-After`` header (seconds; an HTTP date is not used by venues)."""
    try:
        return max(0.0, float(value)) if value else DEFAULT_RETRY_AFTER
    except ValueError:
        return DEFAULT_RETRY_AFTER
