"""A batch printed end to end, for the command line and the job queue alike: issue what is
missing (one transaction), render without holding the database, record the copies (another)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from app.accounts.actor import Actor
from app.applications.operations import Refused
from app.certificates.operations import Prepared, Signer, prepare_batch, record_batch, reprint
from app.certificates.render import render
from app.db import transaction
from app.protect import DataKeys

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Printed:
    batch_id: int
    pdf: bytes
    prepared: Prepared


def print_batch(
    engine: Engine,
    actor: Actor,
    keys: DataKeys,
    signer: Signer,
    round_id: str,
    *,
    zone: str | None,
    today: dt.date,
    public_url: str,
    progress: Callable[[int, int], None] | None = None,
) -> Printed:
    with transaction(engine) as session:
        prepared = prepare_batch(
            session, actor, keys, signer, round_id, zone=zone, today=today, public_url=public_url
        )
    if not prepared.pages:
        why = "；".join(f"{r['application_no']}：{r['reason']}" for r in prepared.refused[:20])
        raise Refused(
            "没有可打印的通知书（没有录取/入户的申请）。"
            if not why
            else f"没有可打印的通知书。{why}"
        )
    return _finish(engine, actor, keys, prepared, progress)


def reprint_one(
    engine: Engine,
    actor: Actor,
    keys: DataKeys,
    signer: Signer,
    number: str,
    reason: str,
    *,
    today: dt.date,
    public_url: str,
) -> Printed:
    """One certificate renders in a fraction of a second, so it is rendered inside the
    transaction that issues it: a rendering that fails leaves no new number, the old
    certificate as it was, and a message (`NotRendered`) instead of an error page."""
    with transaction(engine) as session:
        prepared = reprint(
            session, actor, keys, signer, number, reason, today=today, public_url=public_url
        )
        try:
            pdf = _render(prepared, None)
        except Exception as exc:
            # the exception's text may quote the page (a name): only its kind is logged
            log.error("reprint of %s did not render: %s", number, type(exc).__name__)
            raise NotRendered(
                f"通知书 {number} 的补发件未能生成，未作任何改动（原通知书不变），请稍后重试；"
                "如仍不能生成，请联系系统管理员。"
            ) from exc
        batch_id = record_batch(session, actor, keys, prepared, pdf).id
    return Printed(batch_id, pdf, prepared)


class NotRendered(Refused):
    """The certificate's PDF could not be made; nothing was changed."""


def _render(prepared: Prepared, progress) -> bytes:
    return render(
        prepared.pages,
        title=prepared.title,
        author=prepared.author,
        created=prepared.created,
        progress=progress,
    )


def _finish(engine, actor, keys, prepared: Prepared, progress) -> Printed:
    pdf = _render(prepared, progress)
    with transaction(engine) as session:
        batch = record_batch(session, actor, keys, prepared, pdf)
        batch_id = batch.id
    return Printed(batch_id, pdf, prepared)
