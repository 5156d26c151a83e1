"""`jifen allocate` and `jifen instance`: the arguments of each action and how its answer is
printed; what the actions do is in operations.py (imported when a command runs, so that
`jifen --help` stays quick)."""

from __future__ import annotations

import gc
import json
import os
import sys
import time


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


def _progress(n: int, total_units: int, quiet: bool):
    if quiet or n < 50_000 or not sys.stderr.isatty():
        return None, None
    from tqdm import tqdm

    bar = tqdm(total=total_units, desc="allocating 分配中", unit="zone", file=sys.stderr)
    return bar, bar.update


def _stages(args):
    """Stage messages on a terminal for large inputs (the zone loop also gets a tqdm bar)."""
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


def _refusals(fn):
    """Run a handler; bad input (InstanceError, BadInput) is printed and exits 2."""

    def wrapper(args) -> int:
        from .header import InstanceError
        from .operations import BadInput

        try:
            return fn(args)
        except (InstanceError, BadInput) as exc:
            return _err(str(exc))

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


@_no_gc
@_refusals
def cmd_allocate(args) -> int:
    from . import operations

    bars = []

    def progress_for(inst):
        bar, update = _progress(inst.n, len(inst.categories) * len(inst.zones), args.quiet)
        bars.append(bar)
        return update

    def close_bars() -> None:
        while bars:
            bar = bars.pop()
            if bar is not None:
                bar.close()

    stage = _stages(args)

    def say(message: str) -> None:  # (a new stage ends the progress bar of the last one)
        close_bars()
        stage(message)

    try:
        if args.output and not (args.explain or args.diff or args.verify):
            allocation = operations.allocate_to_file(
                args.instance, args.output, progress_for=progress_for, say=say
            )
            return _allocated(allocation, args)
        source = operations.read_source(args.instance)
        if isinstance(source, dict):  # a result
            if args.output or args.verify or not (args.explain or args.diff):
                raise operations.not_an_instance(args.instance)
            result = source
        else:
            allocation = operations.allocate(source, progress_for(source))
            data = allocation.to_bytes()
            if args.output:
                operations.write(args.output, data)
            if args.verify:
                return _verified(operations.verify(args.verify, data))
            if not args.output and not args.explain and not args.diff:
                sys.stdout.buffer.write(data)
            exit_code = _allocated(allocation, args)
            if not (args.explain or args.diff):
                return exit_code
            result = allocation.document()
    finally:
        close_bars()
    if args.explain:
        record = operations.explain(result, args.explain)
        print(json.dumps(record, ensure_ascii=False, indent=2, sort_keys=True))
        print(record["explanation"])
    if args.diff:
        from .diff import format_diff

        print(format_diff(operations.diff(args.diff, result)))
    return 0


def _allocated(allocation, args) -> int:
    """The summary of a run on stderr; exit 3 if its certificate failed."""
    if not args.quiet:
        _summary(allocation.result, allocation.assignments.status)
    if allocation.ok:
        return 0
    print("jifen: certification FAILED / 校验未通过: see checks", file=sys.stderr)
    return 3


def _summary(result: dict, statuses: list[str]) -> None:
    c = result["checks"]
    count: dict[str, int] = {}
    for x in statuses:
        count[x] = count.get(x, 0) + 1
    print(
        "allocated: "
        + ", ".join(f"{k} {v}" for k, v in sorted(count.items()))
        + f"; checks: capacity_ok={c['capacity_ok']} quota_sum_ok={c['quota_sum_ok']} "
        f"blocking_pairs={c['blocking_pairs']} wasted_seats={c['wasted_seats']} ok={c['ok']}; "
        f"output_sha256={result['manifest']['output_sha256']}",
        file=sys.stderr,
    )


def _verified(verification) -> int:
    ok = verification.recorded == verification.recomputed
    print(f"output_sha256 recorded   {verification.recorded}")
    print(f"output_sha256 recomputed {verification.recomputed}  {'OK' if ok else 'MISMATCH'}")
    if verification.same_as_rerun is not None:
        verdict = (
            "byte-identical 结果一致" if verification.same_as_rerun else "DIFFERENT 结果不一致"
        )
        print(f"rerun of the instance: {verdict}")
    return 0 if verification.ok else 1


@_no_gc
@_refusals
def cmd_generate(args) -> int:
    from .generate import generate
    from .operations import write

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
        write(args.output, data)
    else:
        sys.stdout.buffer.write(data)
    return 0


@_no_gc
@_refusals
def cmd_vacancy(args) -> int:
    from .operations import instance_bytes, vacancy, write

    withdrawn = [w.strip() for w in args.withdraw.split(",") if w.strip()]
    if args.withdraw_file:
        try:
            with open(args.withdraw_file, encoding="utf-8") as fh:
                withdrawn += [line.strip() for line in fh if line.strip()]
        except OSError as exc:
            return _err(f"cannot read withdraw file: {exc.strerror}")
    write(args.output, instance_bytes(vacancy(args.instance, args.previous, withdrawn)))
    return 0
