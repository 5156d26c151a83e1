"""The files the office keeps for a while beside its database, in the instance folder: a
job's progress (a small JSON file the job replaces atomically: a job's own transaction may hold
SQLite's write lock for its whole run, so progress cannot go through the database), an upload
waiting for the consumer and the report of a refused import. The last two hold personal data
and are sealed with the data key; every file is removed FILES_KEPT_SECONDS after it was last
written. No Flask, no huey: the consumer and the views both use it."""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from pathlib import Path
from typing import Any

# How long a job's files stay in the instance folder: progress, a refused import's report, an
# upload waiting for the consumer. Long enough to come back to a report the next day. A job
# still queued or running keeps its files longer (a consumer down over a long weekend), but not
# for ever.
FILES_KEPT_SECONDS = 48 * 3600
UNFINISHED_KEPT_SECONDS = 7 * 24 * 3600
UNFINISHED = ("queued", "running")
_TOKEN = re.compile(r"[0-9]+-[A-Za-z0-9_-]{22}")
EXPIRED = "expired"  # what read_own_state says of a job of the user's whose files are gone
SEALED_FIELD = "office_file"


def new_token(folder: Path, user_id: int | None) -> str:
    """The unguessable name of a new job or report, beginning with its owner's id. Files of the
    folder older than FILES_KEPT_SECONDS are removed first, so nothing stays for ever."""
    sweep(folder)
    return f"{user_id}-{secrets.token_urlsafe(16)}"


def sweep(folder: Path, now: float | None = None) -> int:
    """Remove the folder's files not written for FILES_KEPT_SECONDS (those of a job still queued
    or running: UNFINISHED_KEPT_SECONDS); how many."""
    now = time.time() if now is None else now
    removed = 0
    for path in folder.iterdir():
        try:
            age = now - path.stat().st_mtime
            if not path.is_file() or age < FILES_KEPT_SECONDS:
                continue
            if age < UNFINISHED_KEPT_SECONDS and _unfinished(folder, path.name.split(".", 1)[0]):
                continue
            path.unlink()
            removed += 1
        except FileNotFoundError:  # another worker swept it first
            continue
    return removed


def _unfinished(folder: Path, token: str) -> bool:
    state = read_state(folder, token)
    return state is not None and state.get("status") in UNFINISHED


def read_own_state(folder: Path, token: str, user_id: int | None) -> dict[str, Any] | str | None:
    """The progress of the user's own job; EXPIRED when it is theirs but its files were swept;
    None when the token is not a job of theirs (or no token at all)."""
    if not owns(token, user_id):
        return None
    state = read_state(folder, token)
    if state is None:
        return EXPIRED
    return state if state.get("owner") == user_id else None


def owns(token: str, user_id: int | None) -> bool:
    """Whether `token` is well formed and names a job or report of this user."""
    return bool(_TOKEN.fullmatch(token)) and token.startswith(f"{user_id}-")


def write_sealed(keys, path: Path, data: bytes) -> None:
    """A file holding personal data (an upload waiting for the consumer, a report of the rows
    a file was refused for), encrypted with the data key like the database's fields; replaced
    atomically."""
    from app.protect import encrypt_bytes

    _replace(path, encrypt_bytes(keys, f"{SEALED_FIELD}:{path.name}", data))


def read_sealed(keys, path: Path) -> bytes | None:
    from app.protect import DecryptError, decrypt_bytes

    try:
        # the file's name is bound in: a sealed file moved under another job's name is refused
        return decrypt_bytes(keys, f"{SEALED_FIELD}:{path.name}", path.read_bytes())
    except (OSError, ValueError, DecryptError):  # gone, or sealed under an earlier key
        return None


def write_state(folder: Path, token: str, state: dict[str, Any]) -> None:
    _replace(folder / f"{token}.json", json.dumps(state, ensure_ascii=False).encode("utf-8"))


def _replace(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically: a reader sees the old file or the new, never part."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def read_state(folder: Path, token: str) -> dict[str, Any] | None:
    try:
        return json.loads((folder / f"{token}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def report_path(folder: Path, token: str) -> Path:
    return folder / f"{token}.report.xlsx.sealed"


def upload_path(folder: Path, token: str, suffix: str) -> Path:
    return folder / f"{token}.upload{suffix}.sealed"


def upload_suffix(path: Path) -> str:
    """.csv or .xlsx, from the name `upload_path` gave."""
    return Path(path.name.removesuffix(".sealed")).suffix
