"""`jifen allocate` and `jifen instance`: registered by the allocator (issue 3)."""

from __future__ import annotations

import gc
import json
import sys

from .instance import InstanceError, canonical_bytes, load_json

RESULT_FORMAT = "jifen.allocation-result/1"


def register(commands) -> None:
    """Add the allocation subcommands to the `jifen` parser."""
    p = commands.add_parser(
        "allocate",
        help="distribute quotas and school places (分配指标和学位)",
        description="Run an allocation instance (jifen.allocation/1) and write the result. "
        "按总量控制、分类管理、分区排名分配入户指标和学位。",
    )
    p.add_argument("instance", help="instance JSON (or a result JSON with --explain/--diff)")
    p.add_argument("-o", "--output", help="write the result here (atomically)")
    p.add_argument("--explain", metavar="APPLICANT_ID", help="print one applicant's outcome")
    p.add_argument("--diff", metavar="OTHER_RESULT", help="compare with another result (what-if)")
    p.add_argument(
        "--verify",
        metavar="RESULT",
        help="check RESULT's output_sha256 and that rerunning the instance gives the same bytes",
    )
    p.add_argument("--quiet", action="store_true", help="no summary or progress on stderr")
    p.set_defaults(handler=cmd_allocate)

    q = commands.add_parser("instance", help="generate or derive allocation instances")
    sub = q.add_subparsers(dest="instance_command", required=True, metavar="ACTION")
    g = sub.add_parser("generate", help="a realistic synthetic instance (合成实例)")
    g.add_argument("--applicants", type=int, required=True)
    g.add_argument("--zones", type=int, default=24)
    g.add_argument("--schools", type=int, default=1000)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--choices", type=int, default=5)
    g.add_argument("--family-rate", type=float, default=0.05)
    g.add_argument(
        "--tie-policy", default="lottery", choices=["lottery", "admit_all", "reject_all"]
    )
    g.add_argument(
        "--method",
        default="hamilton",
        choices=["hamilton", "sainte-lague", "dhondt", "min-max-deviation"],
    )
    g.add_argument("--basis", default="demand", choices=["demand", "weight"])
    g.add_argument("-o", "--output", help="write here (default: stdout)")
    g.set_defaults(handler=cmd_generate)
    v = sub.add_parser(
        "vacancy",
        help="vacancy round (补录): keep a previous result's admissions, free withdrawn seats",
    )
    v.add_argument("instance")
    v.add_argument("--previous", required=True, help="the previous round's result")
    v.add_argument("--withdraw", default="", help="comma-separated applicant ids who withdrew")
    v.add_argument("--withdraw-file", help="file with one withdrawn applicant id per line")
    v.add_argument("-o", "--output", required=True)
    v.set_defaults(handler=cmd_vacancy)


def _no_gc(fn):
    """Run a handler with the cyclic collector off (millions of small acyclic objects)."""

    def wrapper(args) -> int:
        was = gc.isenabled()
        gc.disable()
        try:
            return fn(args)
        finally:
            if was:
                gc.enable()

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


def _err(msg: str) -> int:
    print(f"jifen: {msg}", file=sys.stderr)
    return 2


def _write(path: str, data) -> bool:
    """Write `path` atomically; on failure say so (nothing is left behind) and return True."""
    from .result import write_atomic

    try:
        write_atomic(path, data)
    except OSError as exc:
        _err(f"cannot write {path}: {exc.strerror} / 无法写出文件，未写入任何内容")
        return True
    return False


def _progress(n: int, total_units: int, quiet: bool):
    if quiet or n < 50_000 or not sys.stderr.isatty():
        return None, None
    from tqdm import tqdm

    bar = tqdm(total=total_units, desc="allocating 分配中", unit="zone", file=sys.stderr)
    return bar, bar.update


def _stages(args):
    """Stage messages on a terminal for large inputs (the zone loop also gets a tqdm bar)."""
    import os
    import time

    try:
        big = os.path.getsize(args.instance) > 10_000_000
    except OSError:
        big = False
    if args.quiet or not big or not sys.stderr.isatty():
        return lambda msg: None
    t0 = time.perf_counter()

    def say(msg: str) -> None:
        print(f"[{time.perf_counter() - t0:6.1f}s] {msg}", file=sys.stderr, flush=True)

    return say


@_no_gc
def cmd_allocate(args) -> int:
    helper = _helper_for(args)
    try:
        return _allocate(args, helper)
    finally:
        if helper is not None:
            helper.close()


def _helper_for(args):
    """A helper process for writing a large result, forked now while this process is small."""
    if not args.output or args.verify or args.explain or args.diff:
        return None
    from .helper import start_helper

    return start_helper(args.instance)


def _allocate(args, helper) -> int:
    from .instance import loads, read_file, read_instance

    shared = None
    if helper is not None:
        from .helper import SharedRun

        shared = SharedRun(helper)
    say = _stages(args)
    say(f"reading and checking {args.instance} / 读取并校验实例")
    try:
        raw = read_file(args.instance)
        inst = shared.read(raw) if shared is not None else read_instance(raw)
        if inst is None:
            doc = loads(raw, args.instance)
    except InstanceError as exc:
        return _err(str(exc))
    del raw
    if inst is None and isinstance(doc, dict) and doc.get("format") == RESULT_FORMAT:
        if args.output or args.verify or not (args.explain or args.diff):
            return _err(
                f"{args.instance} is an allocation result ({RESULT_FORMAT}), not an instance:"
                " only --explain and --diff read a result"
                " / 这是分配结果文件，不是分配实例：只有 --explain 和 --diff 可以读取结果文件"
            )
        result = doc
    else:
        from .instance import parse_instance
        from .result import iter_serialised, run_columns

        if inst is None:
            say("checking the instance / 校验实例")
            try:
                inst = parse_instance(doc)
            except InstanceError as exc:
                return _err(str(exc))
            del doc
        say(
            f"{inst.n} applicants: ranking, placing, certifying, explaining"
            " / 排名、分配、校验、说明"
        )
        bar, cb = _progress(inst.n, len(inst.categories) * len(inst.zones), args.quiet)
        try:
            result, cols = shared.run(inst, cb) if shared is not None else run_columns(inst, cb)
        except InstanceError as exc:
            return _err(str(exc))
        finally:
            if bar is not None:
                bar.close()
        say("writing the result / 写出结果")
        if args.output and not args.verify:
            data = None  # stream: hashed and written piece by piece
            if _write(args.output, iter_serialised(result, cols)):
                return 2
        else:
            data = [bytes(c) for c in iter_serialised(result, cols)]
            if args.output and _write(args.output, data):
                return 2
        if args.verify:
            return _verify(args.verify, b"".join(data))
        if not args.quiet:
            _summary(result, cols.status)
        if args.explain or args.diff:
            result["assignments"] = cols.records()
        if not args.output and not args.explain and not args.diff:
            for chunk in data:
                sys.stdout.buffer.write(chunk)
        if not result["checks"]["ok"]:
            print("jifen: certification FAILED / 校验未通过: see checks", file=sys.stderr)
            if not args.explain and not args.diff:
                return 3
    if args.explain:
        return _explain(result, args.explain)
    if args.diff:
        try:
            other = load_json(args.diff)
        except InstanceError as exc:
            return _err(str(exc))
        from .diff import diff_results, format_diff

        print(format_diff(diff_results(other, result)))
        return 0
    if args.verify:
        return _verify(args.verify, None)
    return 0


def _summary(result: dict, statuses: list[str]) -> None:
    c = result["checks"]
    st: dict[str, int] = {}
    for x in statuses:
        st[x] = st.get(x, 0) + 1
    print(
        "allocated: "
        + ", ".join(f"{k} {v}" for k, v in sorted(st.items()))
        + f"; checks: capacity_ok={c['capacity_ok']} quota_sum_ok={c['quota_sum_ok']} "
        f"blocking_pairs={c['blocking_pairs']} wasted_seats={c['wasted_seats']} ok={c['ok']}; "
        f"output_sha256={result['manifest']['output_sha256']}",
        file=sys.stderr,
    )


def _explain(result: dict, aid: str) -> int:
    for a in result["assignments"]:
        if a["applicant"] == aid:
            print(json.dumps(a, ensure_ascii=False, indent=2, sort_keys=True))
            print(a["explanation"])
            return 0
    return _err(f"applicant '{aid}' is not in this allocation / 本次分配中没有该申请人")


def _verify(path: str, data: bytes | None) -> int:
    from .result import verify_bytes

    try:
        with open(path, "rb") as fh:
            raw = fh.read()
        ok, recorded, recomputed = verify_bytes(raw)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return _err(f"{path}: not a readable result: {exc} / 无法读取结果文件")
    print(f"output_sha256 recorded   {recorded}")
    print(f"output_sha256 recomputed {recomputed}  {'OK' if ok else 'MISMATCH'}")
    same = True
    if data is not None:
        same = raw == data
        verdict = "byte-identical 结果一致" if same else "DIFFERENT 结果不一致"
        print(f"rerun of the instance: {verdict}")
    return 0 if ok and same else 1


@_no_gc
def cmd_generate(args) -> int:
    from .generate import generate

    if args.applicants < 0 or args.zones < 1 or args.schools < 1 or args.choices < 1:
        return _err("--applicants must be ≥ 0, --zones, --schools and --choices ≥ 1")
    doc = generate(
        args.applicants,
        args.zones,
        args.schools,
        args.seed,
        choices=args.choices,
        family_rate=args.family_rate,
        tie_policy=args.tie_policy,
        method=args.method,
        basis=args.basis,
    )
    data = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
    if args.output:
        if _write(args.output, data):
            return 2
    else:
        sys.stdout.buffer.write(data)
    return 0


def make_vacancy(doc: dict, previous: dict, withdrawn: list[str]) -> dict:
    """A vacancy-round instance: the previous admissions are kept, the withdrawn are freed."""
    from .header import FORMAT

    if not isinstance(previous, dict) or previous.get("format") != RESULT_FORMAT:
        raise InstanceError(["--previous: not a jifen.allocation-result/1 file / 不是分配结果文件"])
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InstanceError([f"field 'format': expected '{FORMAT}' / 格式标记错误"])
    ids = {a.get("applicant") for a in previous.get("assignments", [])}
    bad = [w for w in withdrawn if w not in ids]
    if bad:
        raise InstanceError(
            [
                f"--withdraw '{w}': not in the previous result / 上一轮结果中没有该申请人"
                for w in bad
            ]
        )
    wd = set(withdrawn)
    old = doc.get("vacancy") or {}
    wd |= set(old.get("withdrawn", []))
    kept = {
        a["applicant"]: a["school"]
        for a in previous["assignments"]
        if a["status"] == "admitted" and a["applicant"] not in wd
    }
    new = dict(doc)
    new["vacancy"] = {
        "previous_output_sha256": previous["manifest"]["output_sha256"],
        "admitted": dict(sorted(kept.items())),
        "withdrawn": sorted(wd),
    }
    return new


@_no_gc
def cmd_vacancy(args) -> int:
    try:
        doc = load_json(args.instance)
        prev = load_json(args.previous)
        wd = [w.strip() for w in args.withdraw.split(",") if w.strip()]
        if args.withdraw_file:
            with open(args.withdraw_file, encoding="utf-8") as fh:
                wd += [ln.strip() for ln in fh if ln.strip()]
        new = make_vacancy(doc, prev, wd)
    except InstanceError as exc:
        return _err(str(exc))
    except OSError as exc:
        return _err(f"cannot read withdraw file: {exc.strerror}")
    return 2 if _write(args.output, canonical_bytes(new) + b"\n") else 0
