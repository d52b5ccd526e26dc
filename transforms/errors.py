"""Errors that name the file (or URL) and the problem, so one bad file is easy to find."""

MAX_PROBLEM_CHARS = 2000
"""A problem quoting a file's content is cut here: a junk file must not fill a manifest."""

NOT_FOUND = "not found (HTTP 404)"
"""The problem a REST request answered 404 states: the endpoint is not under the base URL.
(An archive's 404 is no error: the file is not published.) A source that answers it to every
request of a day is reported once, as a wrong URL."""


def printable(text: str, limit: int = MAX_PROBLEM_CHARS) -> str:
    """``text`` safe to quote anywhere (charts, HTML, JSON, logs): every control or other
    non-printable character is written as its escape (``\\x1c``), and text past ``limit``
    characters is cut with a note of how much was left out."""
    shown = "".join(
        character if character.isprintable() else character.encode("unicode_escape").decode()
        for character in text[:limit]
    )
    return shown if len(text) <= limit else f"{shown}… ({len(text) - limit} more characters)"


class TreadmillError(Exception):
    """Base class for every error treadmill raises on purpose."""


class SourceFileError(TreadmillError):
    """A published file is unusable: it names the file or URL and says what is wrong."""

    def __init__(self, location: str, problem: str) -> None:
        # A problem often quotes the file's own bytes (a CSV row): they may be anything.
        problem = printable(problem)
        super().__init__(f"{location}: {problem}")
        self.location = location
        self.problem = problem


class FetchError(SourceFileError):
    """A download failed for good: bad body, checksum mismatch, size cap, retries exhausted.

    ``transient`` marks a failure the archive may not repeat later (5xx, 429, timeouts and
    resets that outlasted every retry), as opposed to what it served being wrong.
    """

    def __init__(self, location: str, problem: str, transient: bool = False) -> None:
        super().__init__(location, problem)
        self.transient = transient


class ParseError(SourceFileError):
    """A landed file does not parse into its dataset's canonical schema.

    ``check`` names the rule it broke (``csv_columns``, ``csv_values``, ``timestamp_unit``,
    ``zip_member``), so that quarantine reports and coverage say which gate failed.
    """

    def __init__(self, location: str, problem: str, check: str = "file_parses") -> None:
        super().__init__(location, problem)
        self.check = check


class ConfigError(TreadmillError):
    """Configuration (universe, URLs, paths) is invalid."""
