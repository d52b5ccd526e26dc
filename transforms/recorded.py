"""Read what ``treadmill record`` wrote: a recorded day as one unit for staging.

The recorder (:mod:`transforms.recorder`) writes ``raw/recorder/<exchange>/<YYYY-MM-DD>/`` on
this machine: closed hourly files ``HH.jsonl`` and ``gaps.jsonl``. Nothing is downloaded; a day
"lands" once it has a closed hour, and its digest (the sha256 of each closed hour's and the gap
file's sha256) changes when another hour closes, so a later run rebuilds it.
"""

import hashlib
from pathlib import Path

from transforms import storage
from transforms.fetch import ArchiveClient, FetchOutcome, Landed, NotPublished
from transforms.hour_files import CLOSED_HOUR_GLOB, GAPS_FILE


class RecordedClient(ArchiveClient):
    """Stages recorded days from ``root`` (``raw/recorder/<exchange>``) like archive files."""

    def __init__(self, root: Path) -> None:
        super().__init__(root.as_uri() + "/", root)

    def fetch(self, relpath: str) -> FetchOutcome:
        folder = self.landed_path(relpath)
        digest = recorded_digest(folder)
        if digest is None:
            return NotPublished(relpath, str(folder))
        return Landed(relpath, folder, digest, "reused")


def recorded_digest(folder: Path) -> str | None:
    """The digest of a recorded day's closed hours and gap records, as it is now; None when
    the day has no closed hour (nothing recorded yet)."""
    hours = storage.listing(folder, CLOSED_HOUR_GLOB)
    if not hours:
        return None
    digest = hashlib.sha256()
    for path in hours:
        digest.update(f"{path.name}:{storage.sha256_of(path)}\n".encode())
    gaps = folder / GAPS_FILE
    if storage.exists(gaps):
        digest.update(f"{gaps.name}:{storage.sha256_of(gaps)}\n".encode())
    return digest.hexdigest()
