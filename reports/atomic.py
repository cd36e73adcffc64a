"""Atomic replacement of a report file: a reader sees the old file or the new one, never half of either.

`memory.files.write_json_atomic` covers JSON; the text and PNG of a report need the same for bytes.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from memory.files import MemoryFileError


def write_bytes_atomic(path: Path, payload: bytes) -> None:
    """Write `payload` to a temporary file beside `path`, fsync it, rename it over `path`, fsync the folder."""
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        temp = Path(temp_name)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        folder_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(folder_fd)
        finally:
            os.close(folder_fd)
    except OSError as exc:
        raise MemoryFileError(path, "write it", f"{exc.strerror or exc}") from exc
