"""Write files exactly as the Binance archive publishes them: one CSV per zip, plus CHECKSUM.

Zips are byte-for-byte deterministic (fixed member timestamp and attributes), so the same rows
always give the same archive and the same sha256.
"""

import hashlib
import io
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath

from transforms.fetch import CHECKSUM_SUFFIX
from transforms.publish import write_bytes_atomically

_EPOCH_1980 = (1980, 1, 1, 0, 0, 0)

Row = Sequence[object]


def format_value(value: object) -> str:
    """Render a value the way Binance's CSVs do: empty for None, plain decimals otherwise."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def csv_bytes(header: Sequence[str] | None, rows: Iterable[Row]) -> bytes:
    """A CSV body with an optional header row, ``\\n`` line ends, no quoting."""
    lines = [",".join(header)] if header is not None else []
    lines.extend(",".join(format_value(v) for v in row) for row in rows)
    return ("\n".join(lines) + "\n").encode() if lines else b""


def zip_bytes(member: str, body: bytes) -> bytes:
    """A deterministic zip holding ``body`` as ``member``."""
    buffer = io.BytesIO()
    info = zipfile.ZipInfo(member, date_time=_EPOCH_1980)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    with zipfile.ZipFile(buffer, "w") as archive:
        # Level 1: a third of level 6's time, for files a tenth larger than Binance's.
        archive.writestr(info, body, compresslevel=1)
    return buffer.getvalue()


def checksum_line(body: bytes, name: str) -> bytes:
    """``.CHECKSUM`` content: ``sha256sum`` format with a trailing newline."""
    return f"{hashlib.sha256(body).hexdigest()}  {name}\n".encode()


def write_archive_file(root: Path, relpath: str, csv_body: bytes) -> Path:
    """Write ``root/relpath`` (a zip holding ``<stem>.csv``) and its ``.CHECKSUM``.

    Each file is replaced, never rewritten in place: a warehouse that landed the previous file
    from this mirror may hold it as a hard link to the same inode, which must keep its bytes.
    """
    target = root / relpath
    member = PurePosixPath(relpath).with_suffix(".csv").name
    body = zip_bytes(member, csv_body)
    write_bytes_atomically(target, body)
    write_bytes_atomically(
        target.with_name(target.name + CHECKSUM_SUFFIX), checksum_line(body, target.name)
    )
    return target
