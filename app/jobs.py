"""Background jobs (huey): long office work runs in a consumer process, not in a request.

The queue is a SQLite file in `instance/` by default (`huey_consumer app.jobs.huey`, which
`make run` starts beside gunicorn); `JIFEN_QUEUE_URL` (a `redis://` URL) selects Redis for
several hosts. Tests run jobs at once (`huey.immediate = True`). A job's progress, its upload
and its report are files of `app/jobfiles.py`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from huey import RedisHuey, SqliteHuey

from app.db import INSTANCE
from app.jobfiles import read_sealed, report_path, upload_suffix, write_sealed, write_state
from app.localtime import beijing_today


def _make_huey():
    # JIFEN_QUEUE_URL names the queue; JIFEN_REDIS_URL is its earlier name, still read
    redis = (os.environ.get("JIFEN_QUEUE_URL") or os.environ.get("JIFEN_REDIS_URL", "")).strip()
    if redis:
        return RedisHuey("jifen", url=redis)
    INSTANCE.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("jifen", filename=str(INSTANCE / "jobs.sqlite"))


huey = _make_huey()


def jobs_dir(instance: Path | None = None) -> Path:
    folder = (instance or INSTANCE) / "jobs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@huey.task()
def import_job(
    token: str, folder: str, actor: dict[str, Any], round_id: str, upload: str, dry_run: bool
) -> None:
    """Check and import an uploaded file, reporting progress; the upload is removed at the end.
    The consumer finds the database and the data key in its own environment (never in the
    queue, which is a file on disk)."""
    from app.accounts.actor import Actor
    from app.applications.importer import (
        ImportRefused,
        Upload,
        import_applications,
        report_bytes,
    )
    from app.db import database_url, engine_for, transaction
    from app.protect import load_keys

    where = Path(folder)
    state = {
        "status": "running",
        "round": round_id,
        "done": 0,
        "total": 0,
        "owner": actor["user_id"],
    }
    write_state(where, token, state)

    def progress(stage: str, done: int, total: int) -> None:
        state.update(stage=stage, done=done, total=total)
        write_state(where, token, state)

    who = Actor(actor["username"], actor["role"], frozenset(actor["zones"]),
                actor["department"], actor["user_id"])  # fmt: skip
    keys = load_keys()
    sealed = Path(upload)
    try:
        data = read_sealed(keys, sealed)
        if data is None:
            raise FileNotFoundError("the upload is gone (removed after FILES_KEPT_SECONDS?)")
        opened = Upload(f"upload{upload_suffix(sealed)}", data)  # in memory only
        with transaction(engine_for(database_url())) as session:
            done = import_applications(
                session, who, round_id, opened, keys, today=beijing_today(),
                dry_run=dry_run, progress=progress,
            )  # fmt: skip
        state.update(status="done", count=done.count, first=done.first, last=done.last,
                     dry_run=dry_run)  # fmt: skip
    except ImportRefused as refused:
        if refused.sheet is not None:
            write_sealed(
                keys, report_path(where, token), report_bytes(refused.sheet, refused.problems)
            )
        state.update(status="refused", problems=[str(p) for p in refused.problems[:500]],
                     problem_count=len(refused.problems),
                     report=refused.sheet is not None)  # fmt: skip
    except Exception as exc:  # a crash is shown as such; the transaction left nothing behind
        state.update(status="failed", error=type(exc).__name__)
        raise
    finally:
        write_state(where, token, state)
        sealed.unlink(missing_ok=True)


@huey.task(retries=1, retry_delay=5)
def allocate_job(token: str, folder: str, actor: dict[str, Any], round_id: str, reason: str):
    """Allocate a round in the consumer. Export, allocation and storage are one transaction:
    a consumer killed in the middle leaves no run behind, and the retry starts afresh (and,
    the instance being the same, gives the same bytes)."""
    from app.accounts.actor import Actor
    from app.applications.operations import Refused
    from app.db import database_url, engine_for, transaction
    from app.rounds.allocation import allocate_round, outcome_counts

    where = Path(folder)
    state = {"status": "running", "round": round_id, "owner": actor["user_id"]}
    write_state(where, token, state)
    who = Actor(actor["username"], actor["role"], frozenset(actor["zones"]),
                actor["department"], actor["user_id"])  # fmt: skip
    try:
        with transaction(engine_for(database_url())) as session:
            run = allocate_round(session, who, round_id, today=beijing_today(), reason=reason)
            state.update(status="done", run=run.number, output_sha256=run.output_sha256,
                         counts=outcome_counts(session, run.id))  # fmt: skip
    except Refused as exc:
        state.update(status="refused", message=exc.zh)
    except Exception as exc:
        state.update(status="failed", error=type(exc).__name__)
        raise
    finally:
        write_state(where, token, state)


@huey.task()
def certificates_job(
    token: str, folder: str, actor: dict[str, Any], round_id: str, zone: str | None,
    public_url: str,
) -> None:  # fmt: skip
    """Print a batch of certificates in the consumer, with the pages done as progress. The
    consumer reads the data and signing keys from its own environment. A consumer killed while
    rendering leaves the issued certificates, which the next print prints with the same numbers."""
    from app.accounts.actor import Actor
    from app.applications.operations import NotFound, Refused
    from app.certificates.operations import Signer
    from app.certificates.printing import print_batch
    from app.certificates.signing import load_signing_key
    from app.db import database_url, engine_for
    from app.protect import load_keys

    where = Path(folder)
    state = {"status": "running", "round": round_id, "owner": actor["user_id"]}
    write_state(where, token, state)

    def progress(done: int, total: int) -> None:
        state.update(done=done, total=total)
        write_state(where, token, state)

    who = Actor(actor["username"], actor["role"], frozenset(actor["zones"]),
                actor["department"], actor["user_id"])  # fmt: skip
    try:
        signer = Signer(load_signing_key(), development=not os.environ.get("JIFEN_SIGNING_KEY"))
        printed = print_batch(
            engine_for(database_url()), who, load_keys(), signer, round_id,
            zone=zone, today=beijing_today(), public_url=public_url, progress=progress,
        )  # fmt: skip
        state.update(status="done", batch=printed.batch_id, pages=len(printed.prepared.pages),
                     issued=printed.prepared.issued, refused=printed.prepared.refused)  # fmt: skip
    except (Refused, NotFound) as exc:
        state.update(status="refused", message=getattr(exc, "zh", "") or "没有这个镇街。")
    except Exception as exc:
        state.update(status="failed", error=type(exc).__name__)
        raise
    finally:
        write_state(where, token, state)
