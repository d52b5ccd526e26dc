"""The shared HTTP transport's retry policy, without a server: what is retried, how long it
waits, and what the last failure becomes. The clients' retries over real HTTP are in
``tests/test_fetch.py`` and ``tests/test_history.py``."""

import time

import pytest

from tests.conftest import FAST_LIMITS
from transforms import transport
from transforms.errors import FetchError

URL = "https://venue.example/v5/market/funding/history"


class Flaky:
    """Fails with ``errors`` in turn, then answers ``ok``; counts the attempts."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.attempts = 0

    def __call__(self) -> str:
        self.attempts += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def test_a_named_wait_goes_to_the_hold_and_the_retry_does_not_wait_again() -> None:
    held: list[float] = []
    attempt = Flaky(
        transport.TransientError("HTTP 429", retry_after=30.0),
        transport.TransientError("rate limited in the body", retry_after=30.0),
    )
    started = time.monotonic()
    answer = transport.with_retries(FAST_LIMITS, URL, attempt, hold=held.append)
    assert answer == "ok"
    assert attempt.attempts == 3
    assert held == [30.0, 30.0]
    assert time.monotonic() - started < 5.0  # the hold, not the retry, owns the 30 s


def test_without_a_hold_a_named_wait_backs_off_like_any_transient_failure() -> None:
    # The archive keeps no pacer: its 429s back off within Limits, not for the 30 s named.
    attempt = Flaky(*[transport.TransientError("HTTP 429", retry_after=30.0)] * 2)
    started = time.monotonic()
    assert transport.with_retries(FAST_LIMITS, URL, attempt) == "ok"
    assert attempt.attempts == 3
    assert time.monotonic() - started < 5.0


def test_the_last_transient_failure_names_the_url_and_the_attempts() -> None:
    attempt = Flaky(*[transport.TransientError("HTTP 503")] * 10)
    with pytest.raises(FetchError) as caught:
        transport.with_retries(FAST_LIMITS, URL, attempt)
    assert attempt.attempts == FAST_LIMITS.max_attempts
    assert caught.value.location == URL
    assert caught.value.problem == "gave up after 3 attempts: HTTP 503"
    assert caught.value.transient


def test_any_other_failure_is_not_retried() -> None:
    attempt = Flaky(FetchError(URL, "unexpected HTTP 403"))
    with pytest.raises(FetchError, match="unexpected HTTP 403") as caught:
        transport.with_retries(FAST_LIMITS, URL, attempt)
    assert attempt.attempts == 1
    assert not caught.value.transient


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("2.5", 2.5), ("0", 0.0), ("-3", 0.0), (None, 1.0), ("", 1.0), ("Wed, 21 Oct 2015", 1.0)],
)
def test_retry_after_reads_seconds_and_falls_back_to_one(
    header: str | None, seconds: float
) -> None:
    assert transport.retry_after(header) == seconds
