"""`jifen score` and `jifen tables`."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from scoring.cases import CaseFileError, load_cases
from scoring.describe import item_values
from scoring.engine import json_number, score
from scoring.facts import FACT_SPECS, Facts, FactsError, load_json
from scoring.model import CONFIDENCE_LABELS, Table, item_facts
from scoring.tables import TableError, UnknownTable, check_all, decimal_str, get_table


def register(commands) -> None:
    """Add the scoring subcommands to the `jifen` parser."""
    p = commands.add_parser("score", help="score facts against a points table (计算积分)")
    p.add_argument("table", help="table id, e.g. zhongshan-2020-school")
    p.add_argument("facts", nargs="?", help="facts JSON file ('-' for standard input)")
    p.add_argument("--on", type=dt.date.fromisoformat, help="reference date YYYY-MM-DD")
    p.add_argument("--batch", type=Path, help="score a CSV or JSONL file of applicants")
    p.add_argument("-o", "--output", type=Path, help="batch output file (.csv or .jsonl)")
    p.add_argument("--suggest", action="store_true", help="also print suggestions")
    p.set_defaults(handler=run_score)

    t = commands.add_parser("tables", help="list, show and check the points tables")
    sub = t.add_subparsers(dest="tables_command", required=True, metavar="ACTION")
    sub.add_parser("check", help="validate every table").set_defaults(handler=run_check)
    ls = sub.add_parser("list", help="list the tables")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=run_list)
    show = sub.add_parser("show", help="show one table, with every point value")
    show.add_argument("table")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=run_show)
    test = sub.add_parser("test", help="run the tables' case files (<id>.cases.toml)")
    test.add_argument("table", nargs="?", help="only this table's cases")
    test.set_defaults(handler=run_test)


def _fail(message: str, code: int = 2) -> int:
    print(message, file=sys.stderr)
    return code


def _load(table_id: str) -> Table | int:
    try:
        return get_table(table_id)
    except UnknownTable as exc:
        return _fail(str(exc))
    except TableError as exc:
        return _fail(f"积分表有误 / tables do not validate:\n{exc}")


def run_score(args: argparse.Namespace) -> int:
    table = _load(args.table)
    if isinstance(table, int):
        return table
    if args.batch:
        from scoring.batchfile import run_batch_file

        if not args.output:
            return _fail("--batch 需要 -o 输出文件 / --batch needs -o OUTPUT")
        return run_batch_file(table, args.batch, args.output, on=args.on)
    if not args.facts:
        return _fail("请提供事实文件 / give a facts JSON file (or --batch)")
    try:
        text = sys.stdin.read() if args.facts == "-" else Path(args.facts).read_text("utf-8")
        raw = load_json(text)
    except OSError as exc:
        return _fail(f"无法读取文件 / cannot read {args.facts}: {exc.strerror}")
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        return _fail(f"不是有效的 JSON / not valid JSON: {exc}")
    try:
        facts = Facts.parse(raw, on=args.on)
    except FactsError as exc:
        for error in exc.errors:
            label = FACT_SPECS[error.field].label if error.field in FACT_SPECS else error.field
            print(f"{error.field}（{label}）：{error.zh} / {error.en}", file=sys.stderr)
        return 1
    result = score(table, facts, on=args.on)
    out = result.to_dict()
    if args.suggest:
        from scoring.suggest import suggest

        out["suggestions"] = [s.to_dict() for s in suggest(table, facts, on=args.on)]
    print(json.dumps(out, ensure_ascii=False, indent=2))
    return 0


def run_check(args: argparse.Namespace) -> int:
    tables, problems = check_all()
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) / 发现 {len(problems)} 处问题", file=sys.stderr)
        return 1
    print(f"{len(tables)} tables OK / {len(tables)} 张积分表校验通过")
    return 0


def summary(table: Table) -> dict:
    return {
        "id": table.id,
        "name": table.name,
        "region": table.region,
        "kind": table.kind,
        "extends": table.extends or None,
        "effective_from": table.effective_from.isoformat(),
        "effective_to": table.effective_to.isoformat() if table.effective_to else None,
        "year_uncertain": table.year_uncertain,
        "illustrative": table.illustrative,
        "secondary_values": table.has_secondary_values,
        "threshold": json_number(table.threshold),
    }


def describe(table: Table) -> dict:
    """A table as JSON: what it asks, how it scores, where each value comes from."""
    return {
        **summary(table),
        "max_total": None if table.max_total is None else json_number(table.max_total),
        "qualification_groups": table.qualification_groups,
        "ranking_groups": table.ranking_groups,
        "tie_break": table.tie_break,
        "facts": table.facts_used(),
        "notes": table.notes,
        "sources": [s.model_dump(mode="json") for s in table.sources],
        "groups": [g.model_dump(mode="json") for g in table.groups],
        "items": [
            {**i.model_dump(mode="json"), "confidence": table.confidence(i)} for i in table.items
        ],
    }


def _marks(table: Table) -> str:
    marks = []
    if table.illustrative:
        marks.append("示例，非官方分值")
    if table.has_secondary_values:
        marks.append("含二手资料分值")
    if table.year_uncertain:
        marks.append("年份待核实")
    return f"  [{'；'.join(marks)}]" if marks else ""


def run_list(args: argparse.Namespace) -> int:
    tables, problems = check_all()
    if args.json:
        print(json.dumps([summary(t) for t in tables.values()], ensure_ascii=False, indent=2))
    else:
        for t in tables.values():
            period = f"{t.effective_from}–{t.effective_to or ''}"
            print(f"{t.id:24} {t.name}（{t.region}，{period}）{_marks(t)}")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


def _citation(table: Table, key: str) -> str:
    cited = table.citations.get(key)
    if cited is None or not cited.source:
        return ""
    mark = CONFIDENCE_LABELS[cited.confidence or table.source(cited.source).confidence]
    return f"（来源：{cited.source}，{mark}）"


def run_show(args: argparse.Namespace) -> int:
    table = _load(args.table)
    if isinstance(table, int):
        return table
    if args.json:
        print(json.dumps(describe(table), ensure_ascii=False, indent=2))
        return 0
    print(f"{table.name}（{table.id}）{_marks(table)}")
    print(f"地区：{table.region}  生效：{table.effective_from}–{table.effective_to or ''}")
    print(f"分数线：{decimal_str(table.threshold)} 分{_citation(table, 'threshold')}")
    if table.max_total is not None:
        print(f"总分上限：{decimal_str(table.max_total)} 分{_citation(table, 'max_total')}")
    if table.tie_break:
        keys = "、".join(FACT_SPECS[k].label for k in table.tie_break)
        print(f"同分排序：{keys}{_citation(table, 'tie_break')}")
    for group in table.groups:
        cap = ""
        if group.cap is not None:
            mark = CONFIDENCE_LABELS[table.source(group.source).confidence]
            cap = f"（上限 {decimal_str(group.cap)} 分；来源：{group.source}，{mark}）"
        kind = "；只计最高一项" if group.pick == "max" else ""
        gate = "；各项必须得分，否则其余指标不予计分" if group.gate else ""
        print(f"\n{group.label}{cap}{kind}{gate}")
        for item in (i for i in table.items if i.group == group.code):
            facts = "、".join(FACT_SPECS[f].label for f in item_facts(item))
            mark = CONFIDENCE_LABELS[table.confidence(item)]
            print(f"  - {item.label} [{item.type}] 依据：{facts}；来源：{item.source}（{mark}）")
            for line in item_values(table, item):
                print(f"      {line}")
    if table.gaps:
        print("\n未编码（每次测算都会提示）：")
        for gap in table.gaps:
            kind = "分值" if gap.kind == "points" else "申请条件"
            only = f"；仅当填写了 {'、'.join(gap.facts)}" if gap.facts else ""
            print(f"  * [{kind}] {gap.label}——{gap.why.rstrip('。')}{only}")
    if table.applicant_notes:
        print("\n给申请人的说明（公开页面显示）：")
        for note in table.applicant_notes:
            print(f"  * {note}")
    if table.notes:
        print("\n维护说明（不公开显示）：")
        for note in table.notes:
            print(f"  * {note}")
    print("\n来源：")
    for s in table.sources:
        doc = f" {s.document}" if s.document else ""
        print(f"  [{s.id}] {s.title}{doc} {s.url}（{CONFIDENCE_LABELS[s.confidence]}）")
    return 0


def run_test(args: argparse.Namespace) -> int:
    """Every case of the tables' case files, as an officer editing a table runs them."""
    tables, problems = check_all()
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return _fail(
            f"积分表有误，未运行测试 / tables do not validate ({len(problems)} problems)", 1
        )
    if args.table and args.table not in tables:
        return _fail(str(UnknownTable(args.table)))
    try:
        cases = [c for c in load_cases() if not args.table or c.table_id == args.table]
    except CaseFileError as exc:
        return _fail(f"测试用例文件有误 / bad case file: {exc}", 1)
    failed = 0
    for case in cases:
        if case.table_id not in tables:
            failed += 1
            print(f"✗ {case.table_id}: {case.name}\n    没有这张积分表 / no such table")
            continue
        found = case.check(tables[case.table_id])
        if found:
            failed += 1
            print(f"✗ {case.table_id}: {case.name}")
            for problem in found:
                print(f"    {problem}")
        else:
            print(f"✓ {case.table_id}: {case.name}")
    print(
        f"\n{len(cases) - failed} passed, {failed} failed"
        f" / 通过 {len(cases) - failed} 例，失败 {failed} 例"
    )
    return 1 if failed or not cases else 0
