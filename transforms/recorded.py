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
        hours = storage.listing(folder, CLOSED_HOUR_GLOB)
        if not hours:
            return NotPublished(relpath, str(folder))
        return Landed(relpath, folder, recorded_digest(folder), "reused")


def recorded_digest(folder: Path) -> str:
    """The digest of a recorded day's closed hours and gap records, as it is now."""
    digest = hashlib.sha256()
    files = [*storage.listing(folder, CLOSED_HOUR_GLOB), folder / GAPS_FILE]
    for path in files:
        if storage.exists(path):
            digest.update(f"{path.name}:{storage.sha256_of(path)}\n".encode())
    return digest.hexdigest()
