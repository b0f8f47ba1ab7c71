"""Immutable archive of every file given to petakota (uploads, boundary files, facility lists).

A file is stored once under its SHA-256, read-only, before anything is parsed, so a day's field
work is never lost even when its ingest fails or is killed.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

_CHUNK = 1 << 20


@dataclass(frozen=True)
class ArchivedFile:
    """A file in the archive: its content hash, archived copy and size in bytes."""

    sha256: str
    path: Path
    size_bytes: int
    original_name: str


def sha256_of(path: Path) -> str:
    """Return the hex SHA-256 of a file, streamed in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def safe_name(name: str) -> str:
    """Reduce a user-supplied file name to a safe base name (no folders, no odd characters)."""
    base = Path(name.replace("\\", "/")).name
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._")
    return cleaned[:120] or "upload"


def client_file_name(filename: str, default: str) -> str:
    """The name a client sent for an uploaded file, without any folder part (browsers on Windows
    may send one), at most 200 characters; ``default`` when empty."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return name[:200] or default


def archive_file(source: Path, archive_dir: Path, *, original_name: str | None = None,
                 uploaded_by: str | None = None, data: bytes | None = None) -> ArchivedFile:
    """Copy ``source`` into ``archive_dir/<sha[:2]>/<sha>/<name>`` read-only; reuse an existing copy.

    The copy is written to a temporary name and renamed, so a crash never leaves half a file
    under the final name.  Every call appends who gave the file and when to ``received.jsonl``
    beside it, so the uploader of a file that was later rejected is known too.  ``data`` is the
    file's content when the caller has read it already (it is then not read again).
    """
    source = Path(source)
    name = safe_name(original_name or source.name)
    sha = sha256_of(source) if data is None else hashlib.sha256(data).hexdigest()
    folder = Path(archive_dir) / sha[:2] / sha
    target = folder / name
    if not target.exists():
        folder.mkdir(parents=True, exist_ok=True)
        # A name of its own: the same file may be archived by two uploads at the same time.
        partial = folder / f".{name}.{uuid.uuid4().hex}.partial"
        if data is None:
            shutil.copyfile(source, partial)
        else:
            partial.write_bytes(data)
        os.chmod(partial, 0o444)
        os.replace(partial, target)
    _log_receipt(folder, original_name or source.name, uploaded_by)
    return ArchivedFile(sha, target, target.stat().st_size, original_name or source.name)


def _log_receipt(folder: Path, name: str, uploaded_by: str | None) -> None:
    from datetime import UTC, datetime

    entry = {"received_at": datetime.now(UTC).isoformat(timespec="seconds"),
             "original_name": name, "uploaded_by": uploaded_by}
    with open(folder / "received.jsonl", "a", encoding="utf-8") as log:
        log.write(json.dumps(entry, ensure_ascii=False) + "\n")


def archive_folder(archived: ArchivedFile) -> Path:
    """The folder holding an archived file and its derived reports (e.g. rejected rows)."""
    return archived.path.parent
