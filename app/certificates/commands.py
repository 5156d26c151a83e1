"""`jifen certificates print | verify | reprint | revoke | used | new-key`.

`verify` works offline: given the keys file that `/verify/keys` publishes, it checks a code's
signature without the database, then (where the database is reachable) whether the certificate
was revoked or superseded. Exit codes: 0 done (verify: valid), 1 verify: not valid, or a batch
printed without some certificates (listed), 2 bad input with nothing written."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

from app.commands import _fail
from app.localtime import beijing_today


def register(commands) -> None:
    certs = commands.add_parser("certificates", help="approval certificates (核准/录取通知书)")
    sub = certs.add_subparsers(dest="action", required=True, metavar="ACTION")
    pr = sub.add_parser("print", help="print the certificates of a final round in one PDF")
    pr.add_argument("round_id", metavar="ROUND")
    pr.add_argument("--zone", help="only this zone (镇街)")
    pr.add_argument("-o", "--output", type=Path, required=True, metavar="CERTIFICATES.pdf")
    pr.set_defaults(handler=run_print)
    ver = sub.add_parser("verify", help="check a certificate's QR code (or its URL)")
    ver.add_argument("code", metavar="CODE")
    ver.add_argument("--keys", type=Path, help="the keys file of /verify/keys (offline check)")
    ver.set_defaults(handler=run_verify)
    rep = sub.add_parser("reprint", help="a new certificate replacing one (lost, damaged)")
    rep.add_argument("number", metavar="NUMBER")
    rep.add_argument("--reason", required=True)
    rep.add_argument("-o", "--output", type=Path, required=True, metavar="CERTIFICATE.pdf")
    rep.set_defaults(handler=run_reprint)
    rev = sub.add_parser("revoke", help="revoke a certificate")
    rev.add_argument("number", metavar="NUMBER")
    rev.add_argument("--reason", required=True)
    rev.set_defaults(handler=run_revoke)
    used = sub.add_parser("used", help="record that the holder registered or enrolled")
    used.add_argument("number", metavar="NUMBER")
    used.add_argument("--on", type=dt.date.fromisoformat, default=None, metavar="YYYY-MM-DD")
    used.set_defaults(handler=run_used)
    key = sub.add_parser("new-key", help="write a new Ed25519 signing key file (key rotation)")
    key.add_argument("path", type=Path, metavar="FILE")
    key.set_defaults(handler=run_new_key)


def _context():
    """The database engine, the data keys, the signer and the public URL, or a message."""
    import os

    from app.certificates.operations import Signer
    from app.certificates.signing import SigningKeyError, load_signing_key
    from app.commands import _engine, _ready
    from app.config import default_public_url
    from app.protect import load_keys

    engine = _engine()
    if (message := _ready(engine)) is not None:
        raise LookupError(message)
    try:
        signer = Signer(
            load_signing_key(), development=not os.environ.get("JIFEN_SIGNING_KEY", "").strip()
        )
    except SigningKeyError as exc:
        raise LookupError(f"签名密钥不可用 / {exc}") from None
    url = os.environ.get("JIFEN_PUBLIC_URL", "").strip() or default_public_url(dict(os.environ))
    return engine, load_keys(), signer, url.rstrip("/")


def _unwritable(path: Path) -> str | None:
    """Why the PDF could not be written there, checked before anything is issued."""
    import os

    folder = path.resolve().parent
    if not folder.is_dir() or not os.access(folder, os.W_OK) or path.is_dir():
        return f"无法写出 {path}：目录不存在或不可写 / cannot write {path}"
    return None


def _refused_lines(refused: list[dict]) -> list[str]:
    return [f"  {r['application_no']}：{r['reason']}" for r in refused]


def _print_to(args: argparse.Namespace, act, *, missing: str, undone: str):
    """Print with `act(engine, actor, keys, signer, url)` into `args.output`: the Printed, or
    the exit code of a refusal (checked before anything is issued where it can be)."""
    from allocation.result import write_atomic
    from app.accounts.actor import Actor
    from app.applications.operations import NotFound, Refused

    try:
        engine, keys, signer, url = _context()
    except LookupError as exc:
        return _fail(str(exc))
    if (problem := _unwritable(args.output)) is not None:
        return _fail(problem)
    try:
        printed = act(engine, Actor.command_line(), keys, signer, url)
        write_atomic(str(args.output), printed.pdf)
    except NotFound as exc:
        return _fail(missing(exc))
    except Refused as exc:
        return _fail(f"{exc.zh} / {undone}")
    except OSError as exc:
        return _fail(f"无法写出 {args.output}：{exc.strerror} / cannot write {args.output}")
    return printed


def run_print(args: argparse.Namespace) -> int:
    from app.certificates.printing import print_batch

    printed = _print_to(
        args,
        lambda engine, actor, keys, signer, url: print_batch(
            engine, actor, keys, signer, args.round_id, zone=args.zone,
            today=beijing_today(), public_url=url,
        ),
        missing=lambda what: f"没有轮次或镇街 {what} / no such round or zone: {what}",
        undone="nothing printed",
    )  # fmt: skip
    if isinstance(printed, int):
        return printed
    prepared = printed.prepared
    print(
        f"已打印 {len(prepared.pages)} 份通知书（新签发 {prepared.issued} 份）到 {args.output} / "
        f"{len(prepared.pages)} certificates printed, batch {printed.batch_id}"
    )
    if prepared.refused:
        return _fail(
            f"以下 {len(prepared.refused)} 份未打印 / not printed:",
            *_refused_lines(prepared.refused),
            code=1,
        )
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from app.certificates.operations import check_code
    from app.certificates.signing import code_of, keys_from_document

    code = code_of(args.code)
    if args.keys is not None:
        try:
            keys = keys_from_document(json.loads(args.keys.read_bytes()))
        except (OSError, ValueError) as exc:
            return _fail(f"无法读取公钥文件 {args.keys}：{exc} / cannot read the keys file")
        verdict = check_code(code, keys)
        if verdict.state != "invalid":  # the state, where this office's database is reachable
            verdict = check_code(code, keys, _states_if_reachable(verdict))
    else:
        try:
            engine = _reachable()
        except LookupError as exc:
            return _fail(str(exc), "离线核验请用 --keys 指定公钥文件 / use --keys offline")
        from app.certificates.operations import verdict_of
        from app.db import transaction

        with transaction(engine, write=False) as session:
            verdict, _ = verdict_of(session, code)
    _print_verdict(verdict)
    return 0 if verdict.state == "valid" else 1


def _reachable():
    from app.commands import _engine, _ready

    engine = _engine()
    try:
        message = _ready(engine)
    except Exception as exc:  # no database server: the offline check still stands
        raise LookupError(f"数据库不可用 / database not reachable: {type(exc).__name__}") from None
    if message is not None:
        raise LookupError(message)
    return engine


def _states_if_reachable(verdict) -> dict | None:
    """The certificate's state where a database is reachable and holds its number (another
    office's database, or a copy from before it was issued, does not know it: no state)."""
    try:
        engine = _reachable()
    except LookupError:
        return None
    from app.certificates.operations import states_by_number
    from app.db import transaction

    with transaction(engine, write=False) as session:
        return states_by_number(session, [verdict.claims["number"]])


def _print_verdict(verdict) -> None:
    from app.applications.operations import points_of
    from app.certificates.operations import KINDS

    print(f"核验结果：{verdict.label} / verdict: {verdict.state}")
    if verdict.state == "invalid":
        return
    c = verdict.claims
    lines = [
        ("通知书编号", c["number"]),
        ("类型", KINDS.get(c.get("kind"), c.get("kind"))),
        ("轮次", f"{c.get('round')}（{c.get('year')} 年）"),
        ("镇街", c.get("zone")),
        ("姓名", c.get("name")),
        ("积分", points_of(c.get("points_cents", 0))),
        ("学校", c.get("school")),
        ("签发日期", c.get("issued")),
        ("签名密钥", verdict.kid),
    ]
    for label, value in lines:
        if value not in (None, ""):
            print(f"  {label}：{value}")
    if not verdict.checked:
        print(
            "  （签名有效；未能在签发机关的数据库中查到这份通知书，未能查询是否已撤销 / "
            "signature valid; revocation state not checked）"
        )
    print("  请与持证人身份证核对 / compare with the holder's ID card")


def _one(args, act) -> int:
    from app.accounts.actor import Actor
    from app.applications.operations import NotFound, Refused
    from app.commands import _engine, _ready
    from app.db import transaction

    engine = _engine()
    if (message := _ready(engine)) is not None:
        return _fail(message)
    try:
        with transaction(engine) as session:
            act(session, Actor.command_line())
    except NotFound:
        return _fail(f"没有通知书 {args.number} / no certificate {args.number}")
    except Refused as exc:
        return _fail(f"{exc.zh} / not done")
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    from app.certificates.operations import revoke

    code = _one(args, lambda s, who: revoke(s, who, args.number, args.reason))
    if code == 0:
        print(f"已撤销 {args.number} / revoked")
    return code


def run_used(args: argparse.Namespace) -> int:
    from app.certificates.operations import record_use

    day = args.on or beijing_today()
    code = _one(args, lambda s, who: record_use(s, who, args.number, day=day))
    if code == 0:
        print(f"已登记 {args.number} 于 {day.isoformat()} / use recorded")
    return code


def run_reprint(args: argparse.Namespace) -> int:
    from app.certificates.printing import reprint_one

    printed = _print_to(
        args,
        lambda engine, actor, keys, signer, url: reprint_one(
            engine, actor, keys, signer, args.number, args.reason,
            today=beijing_today(), public_url=url,
        ),
        missing=lambda _: f"没有通知书 {args.number} / no certificate {args.number}",
        undone="not reprinted",
    )  # fmt: skip
    if isinstance(printed, int):
        return printed
    new = printed.prepared.pages[0].number
    print(f"已补发 {new}，原通知书 {args.number} 已作废 / reprinted as {new}")
    return 0


def run_new_key(args: argparse.Namespace) -> int:
    from app.certificates.signing import write_new_key

    try:
        kid = write_new_key(args.path)
    except FileExistsError:
        return _fail(f"{args.path} 已存在，不会覆盖 / exists, not overwritten")
    except OSError as exc:
        return _fail(f"无法写出 {args.path}：{exc.strerror} / cannot write {args.path}")
    print(
        f"新签名密钥 {kid} 已写入 {args.path}；将 JIFEN_SIGNING_KEY 指向它即启用 / "
        f"new signing key {kid} written; point JIFEN_SIGNING_KEY at it"
    )
    return 0
