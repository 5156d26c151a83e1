"""The office's commands: `jifen db | users | rounds | applications | tokens | audit | demo`.

Each opens one transaction and commits once; secrets (passwords) come from standard input,
never from arguments. Bad input prints one line per problem, in Chinese and English, and exits 2
with nothing written."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app.localtime import beijing_today


def register(commands) -> None:
    db = commands.add_parser("db", help="the database (数据库)")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_sub.add_parser(
        "upgrade", help="create or migrate the database of DATABASE_URL"
    ).set_defaults(handler=run_db_upgrade)

    users = commands.add_parser("users", help="staff accounts (工作人员账号)")
    users_sub = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    add = users_sub.add_parser("add", help="add an account; the password is read from stdin")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=("admin", "clerk", "reviewer", "auditor"))
    add.add_argument("--zone", action="append", default=[], help="a zone the account serves")
    add.add_argument("--department", default="", help="a reviewer's department")
    add.add_argument(
        "--temporary", action="store_true", help="the password must be changed at first login"
    )
    add.set_defaults(handler=run_users_add)

    rounds = commands.add_parser("rounds", help="annual rounds (年度轮次)")
    rounds_sub = rounds.add_subparsers(dest="rounds_command", required=True, metavar="ACTION")
    create = rounds_sub.add_parser("create", help="register a round configuration (jifen.round/1)")
    create.add_argument("config", type=Path)
    create.set_defaults(handler=run_rounds_create)
    export = rounds_sub.add_parser(
        "export", help="the round's anonymised allocation instance (jifen.allocation/1)"
    )
    export.add_argument("round_id")
    export.add_argument("-o", "--output", required=True, type=Path)
    export.set_defaults(handler=run_rounds_export)
    alloc = rounds_sub.add_parser(
        "allocate", help="allocate a settled round on exactly its exported instance; store it"
    )
    alloc.add_argument("round_id")
    alloc.add_argument("--reason", default="", help="why a round allocated before runs again")
    alloc.set_defaults(handler=run_rounds_allocate)
    result = rounds_sub.add_parser("result", help="the stored result of the round's allocation")
    result.add_argument("round_id")
    result.add_argument("-o", "--output", required=True, type=Path)
    result.set_defaults(handler=run_rounds_result)
    for action, text in (
        ("publish", "open the 公示 of the round's allocation"),
        ("finalize", "close the round once its 公示 and objection days passed"),
    ):
        step = rounds_sub.add_parser(action, help=text)
        step.add_argument("round_id")
        step.set_defaults(handler=run_rounds_step, step=action)
    listing = rounds_sub.add_parser("list", help="list the rounds")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=run_rounds_list)

    apps = commands.add_parser("applications", help="applications (申请)")
    apps_sub = apps.add_subparsers(dest="applications_command", required=True, metavar="ACTION")
    imp = apps_sub.add_parser("import", help="import a CSV or XLSX file of applications")
    imp.add_argument("file", type=Path)
    imp.add_argument("--round", required=True, dest="round_id")
    imp.add_argument("--dry-run", action="store_true", help="check only, write nothing")
    imp.add_argument("--verified", action="store_true", help="facts verified elsewhere")
    imp.add_argument("--report", type=Path, help="write the file back with bad cells marked")
    imp.set_defaults(handler=run_applications_import)
    ls = apps_sub.add_parser("list", help="list a round's applications (no personal data)")
    ls.add_argument("--round", required=True, dest="round_id")
    ls.add_argument("--zone")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=run_applications_list)

    tokens = commands.add_parser("tokens", help="departments' API tokens (部门接口令牌)")
    tokens_sub = tokens.add_subparsers(dest="tokens_command", required=True, metavar="ACTION")
    issue = tokens_sub.add_parser(
        "issue", help="a token for a department's system; printed once, only its hash is kept"
    )
    issue.add_argument("name", help="the system that will hold it, e.g. 人社局社保系统")
    issue.add_argument("--department", required=True)
    issue.add_argument("--zone", action="append", default=[], help="only these zones")
    issue.add_argument("--days", type=int, default=90, help="valid for (default 90, at most 366)")
    issue.set_defaults(handler=run_tokens_issue)
    tls = tokens_sub.add_parser("list", help="the tokens (never their secrets)")
    tls.add_argument("--json", action="store_true")
    tls.set_defaults(handler=run_tokens_list)
    rev = tokens_sub.add_parser("revoke", help="revoke a token at once")
    rev.add_argument("token_id", type=int)
    rev.set_defaults(handler=run_tokens_revoke)

    audit = commands.add_parser("audit", help="the audit log (审计日志)")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    audit_sub.add_parser("verify", help="check the hash chain end to end").set_defaults(
        handler=run_audit_verify
    )

    demo = commands.add_parser("demo", help="seed a demo city modelled on Zhongshan (演示数据)")
    demo.add_argument(
        "--applications", type=int, default=5000, help="synthetic applications (default 5000)"
    )
    demo.add_argument("--seed", type=int, default=20260, help="seed of the synthetic data")
    demo.set_defaults(handler=run_demo)


def _fail(*lines: str, code: int = 2) -> int:
    for line in lines:
        print(line, file=sys.stderr)
    return code


def _engine():
    from app.db import database_url, engine_for

    return engine_for(database_url())


def _ready(engine) -> str | None:
    """A message when the database has not been created or migrated yet."""
    from sqlalchemy import inspect

    if not inspect(engine).has_table("audit_head"):
        return (
            "数据库尚未初始化，请先运行 jifen db upgrade / "
            "the database is not set up: run `jifen db upgrade`"
        )
    return None


def run_db_upgrade(args: argparse.Namespace) -> int:
    from app.migrate import current, upgrade

    engine = _engine()
    upgrade(engine)
    print(
        f"数据库已是最新版本 / database at revision {current(engine)}: "
        f"{engine.url.render_as_string()}"
    )
    return 0


def run_users_add(args: argparse.Namespace) -> int:
    from app.accounts.actor import Actor
    from app.accounts.operations import AccountError, create_user
    from app.db import transaction

    password = sys.stdin.readline().rstrip("\n")
    engine = _engine()
    if (message := _ready(engine)) is not None:
        return _fail(message)
    try:
        with transaction(engine) as session:
            create_user(
                session,
                Actor.command_line(),
                args.username,
                password,
                role=args.role,
                zones=args.zone,
                department=args.department,
                temporary=args.temporary,
            )
    except AccountError as exc:
        return _fail(f"{exc.zh} / {exc.en}")
    print(f"已创建账号 {args.username}（{args.role}）/ account {args.username} created")
    return 0


def run_rounds_create(args: argparse.Namespace) -> int:
    from app.accounts.actor import Actor
    from app.db import transaction
    from app.rounds.operations import RoundError, create_round

    try:
        config = json.loads(args.config.read_text(encoding="utf-8"))
    except OSError as exc:
        return _fail(f"无法读取文件 / cannot read {args.config}: {exc.strerror}")
    except (ValueError, UnicodeDecodeError) as exc:
        return _fail(f"不是有效的 JSON / not valid JSON: {exc}")
    engine = _engine()
    if (message := _ready(engine)) is not None:
        return _fail(message)
    try:
        with transaction(engine) as session:
            round_ = create_round(session, Actor.command_line(), config, today=beijing_today())
            version = round_.version
    except RoundError as exc:
        return _fail(
            "轮次配置有误 / invalid round configuration:", *(f"  - {p}" for p in exc.problems)
        )
    print(
        f"已登记轮次 {config['id']}（第 {version} 版）/ "
        f"round {config['id']} registered, version {version}"
    )
    return 0


def run_tokens_issue(args: argparse.Namespace) -> int:
    from app.accounts.actor import Actor
    from app.applications.operations import Refused
    from app.db import transaction
    from app.exchange.operations import issue

    engine = _engine()
    if (message := _ready(engine)) is not None:
        return _fail(message)
    try:
        with transaction(engine) as session:
            issued = issue(
                session, Actor.command_line(), args.name, args.department, args.zone,
                days=args.days,
            )  # fmt: skip
            number = issued.token.id
    except Refused as exc:
        return _fail(f"{exc.zh} / token not issued")
    print(
        f"已生成令牌 {number}（只显示这一次）/ token {number} issued (shown once):",
        file=sys.stderr,
    )
    print(issued.secret)
    return 0


def run_tokens_list(args: argparse.Namespace) -> int:
    from app.accounts.actor import Actor
    from app.audit.operations import utcnow
    from app.db import transaction
    from app.exchange.operations import token_state, tokens

    engine = _engine()
    if (message := _ready(engine)) is not None:
        return _fail(message)
    with transaction(engine, write=False) as session:
        now = utcnow()
        rows = [
            {
                "id": t.id, "name": t.name, "department": t.department,
                "zones": json.loads(t.zones), "state": token_state(t, now),
                "expires_at": t.expires_at.isoformat() if t.expires_at else None,
                "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
            }
            for t in tokens(session, Actor.command_line())
        ]  # fmt: skip
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    for r in [] if args.json else rows:
        zones = ",".join(r["zones"]) or "all zones"
        print(f"{r['id']:>4} {r['state']:8} {r['department']:10} {zones:20} {r['name']}")
    return 0


def run_tokens_revoke(args: argparse.Namespace) -> int:
    from app.accounts.actor import Actor
    from app.applications.operations import NotFound, Refused
    from app.db import transaction
    from app.exchange.operations import revoke

    engine = _engine()
    if (message := _ready(engine)) is not None:
        return _fail(message)
    try:
        with transaction(engine) as session:
            revoke(session, Actor.command_line(), args.token_id)
    except NotFound:
        return _fail(f"没有编号为 {args.token_id} 的令牌 / no token {args.token_id}")
    except Refused as exc:
        return _fail(f"{exc.zh} / already revoked")
    print(f"已吊销令牌 {args.token_id} / token {args.token_id} revoked")
    return 0


def run_rounds_export(args: argparse.Namespace) -> int:
    from allocation.result import write_atomic
    from app.accounts.actor import Actor
    from app.applications.operations import NotFound, Refused
    from app.db import transaction
    from app.rounds.export import export_instance

    engine = _engine()
    if (message := _ready(engine)) is not None:
        return _fail(message)
    try:
        with transaction(engine) as session:
            data = export_instance(session, Actor.command_line(), args.round_id,
                                   today=beijing_today())  # fmt: skip
            write_atomic(str(args.output), data)
    except NotFound:
        return _fail(f"没有轮次 {args.round_id} / no round {args.round_id}")
    except Refused as exc:
        return _fail(f"{exc.zh} / the round cannot be exported yet")
    except OSError as exc:
        return _fail(f"无法写出 {args.output}：{exc.strerror} / cannot write {args.output}")
    print(f"已导出 {args.output}（{len(data):,} 字节）/ instance written: {args.output}")
    return 0


def run_rounds_allocate(args: argparse.Namespace) -> int:
    from app.accounts.actor import Actor
    from app.applications.operations import NotFound, Refused
    from app.db import transaction
    from app.rounds.allocation import allocate_round

    engine = _engine()
    if (message := _ready(engine)) is not None:
        return _fail(message)
    try:
        with transaction(engine) as session:
            run = allocate_round(session, Actor.command_line(), args.round_id,
                                 today=beijing_today(), reason=args.reason)  # fmt: skip
            number, digest = run.number, run.output_sha256
    except NotFound:
        return _fail(f"没有轮次 {args.round_id} / no round {args.round_id}")
    except Refused as exc:
        return _fail(f"{exc.zh} / the round was not allocated")
    print(
        f"已分配 {args.round_id}（第 {number} 次）/ allocated, run {number}: output_sha256 {digest}"
    )
    return 0


def run_rounds_result(args: argparse.Namespace) -> int:
    from allocation.result import write_atomic
    from app.applications.operations import NotFound, Refused
    from app.db import transaction
    from app.rounds.allocation import stored_result

    engine = _engine()
    if (message := _ready(engine)) is not None:
        return _fail(message)
    try:
        with transaction(engine, write=False) as session:
            data = stored_result(session, args.round_id)
        write_atomic(str(args.output), data)
    except NotFound:
        return _fail(f"没有轮次 {args.round_id} / no round {args.round_id}")
    except Refused as exc:
        return _fail(f"{exc.zh} / not allocated yet")
    except OSError as exc:
        return _fail(f"无法写出 {args.output}：{exc.strerror} / cannot write {args.output}")
    print(f"已写出 {args.output} / result written: {args.output}")
    return 0


def run_rounds_step(args: argparse.Namespace) -> int:
    from app.accounts.actor import Actor
    from app.applications.operations import NotFound, Refused
    from app.db import transaction
    from app.publicity.operations import finalize, publish

    engine = _engine()
    if (message := _ready(engine)) is not None:
        return _fail(message)
    step = {"publish": publish, "finalize": finalize}[args.step]
    try:
        with transaction(engine) as session:
            step(session, Actor.command_line(), args.round_id, today=beijing_today())
    except NotFound:
        return _fail(f"没有轮次 {args.round_id} / no round {args.round_id}")
    except Refused as exc:
        return _fail(f"{exc.zh} / not done")
    done = {"publish": "已公示 / published", "finalize": "已完成 / finalized"}[args.step]
    print(f"{args.round_id}：{done}")
    return 0


def run_rounds_list(args: argparse.Namespace) -> int:
    from app.db import transaction
    from app.rounds.operations import list_rounds

    engine = _engine()
    if (message := _ready(engine)) is not None:
        return _fail(message)
    with transaction(engine, write=False) as session:
        rounds = list_rounds(session, beijing_today())
    if args.json:
        print(json.dumps(rounds, ensure_ascii=False, indent=2))
    else:
        for r in rounds:
            window = "–".join(r["application_window"])
            print(
                f"{r['id']:20} {r['name']}（{r['status']}，申请 {window}，{r['applications']} 件）"
            )
    return 0


def run_applications_import(args: argparse.Namespace) -> int:
    from app.accounts.actor import Actor
    from app.applications.importer import ImportRefused, import_applications, write_report
    from app.db import transaction
    from app.protect import load_keys

    engine = _engine()
    if (message := _ready(engine)) is not None:
        return _fail(message)
    keys = load_keys()
    try:
        with transaction(engine) as session:
            done = import_applications(
                session,
                Actor.command_line(),
                args.round_id,
                args.file,
                keys,
                today=beijing_today(),
                verified=args.verified,
                dry_run=args.dry_run,
            )
    except ImportRefused as exc:
        if args.report and exc.sheet is not None:
            write_report(exc.sheet, exc.problems, args.report)
        for problem in exc.problems[:200]:
            print(problem, file=sys.stderr)
        if len(exc.problems) > 200:
            more = len(exc.problems) - 200
            print(f"……另有 {more} 处错误 / {more} more", file=sys.stderr)
        report = (
            f"，检查报告：{args.report} / report: {args.report}"
            if args.report and exc.sheet
            else ""
        )
        return _fail(
            f"发现 {len(exc.problems)} 处错误，未导入任何记录 / {len(exc.problems)} problems, "
            f"nothing imported{report}"
        )
    if args.dry_run:
        print(
            f"检查通过：{done.count} 条可导入（未写入）/ "
            f"{done.count} rows would be imported (dry run)"
        )
    elif done.count:
        print(
            f"已导入 {done.count} 条申请，受理编号 {done.first} 至 {done.last} / "
            f"{done.count} applications imported, {done.first} to {done.last}"
        )
    else:
        print("文件中没有数据行 / the file has no data rows")
    return 0


def run_applications_list(args: argparse.Namespace) -> int:
    from app.accounts.actor import Actor
    from app.applications.operations import list_applications
    from app.db import transaction

    engine = _engine()
    if (message := _ready(engine)) is not None:
        return _fail(message)
    with transaction(engine, write=False) as session:
        rows = list_applications(session, Actor.command_line(), args.round_id, zone=args.zone)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
    else:
        for row in rows:
            print(
                f"{row['application_no']}  {row['zone']}  {row['category']}  "
                f"{row['status']}  {row['ranking_score']}"
            )
    return 0


def run_audit_verify(args: argparse.Namespace) -> int:
    from app.audit.operations import verify_chain
    from app.db import transaction

    engine = _engine()
    if (message := _ready(engine)) is not None:
        return _fail(message)
    with transaction(engine, write=False) as session:
        report = verify_chain(session, helper=True)
    if report.ok:
        print(f"审计日志完整：{report.entries} 条 / audit chain intact: {report.entries} entries")
        return 0
    return _fail(
        f"审计日志在第 {report.broken_at} 条处断开：{report.reason} / chain broken at entry "
        f"{report.broken_at}",
        code=1,
    )


def run_demo(args: argparse.Namespace) -> int:
    import os

    from app.demo import report, seed_demo
    from app.protect import load_keys

    if os.environ.get("JIFEN_ENV", "").strip().lower() == "production":
        print(
            "生产环境（JIFEN_ENV=production）不生成演示数据 / "
            "no demo data in production (JIFEN_ENV=production): nothing done",
            file=sys.stderr,
        )
        return 0
    if args.applications < 0:
        return _fail("申请数不能为负数 / --applications must be at least 0")
    engine = _engine()
    if (message := _ready(engine)) is not None:
        return _fail(message)
    done = seed_demo(
        engine, load_keys(), today=beijing_today(), applications=args.applications, seed=args.seed
    )
    for line in report(done):
        print(line)
    return 0
