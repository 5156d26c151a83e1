"""What `jifen allocate` and `jifen instance` do, as named operations: allocate, explain, diff,
verify, vacancy. Each takes paths or documents and returns plain data; bad input raises
InstanceError (for an instance's problems) or BadInput (anything else), whose message says what
is wrong in English and Chinese. cli.py only reads the arguments and prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .diff import diff_results
from .header import FORMAT, InstanceError
from .helper import USUAL, SharedRun, Thresholds, start_helper
from .instance import Instance, canonical_bytes, load_json, loads, parse_instance, read_file
from .instance import read_instance as read_typed
from .result import (
    RESULT_FORMAT,
    Assignments,
    iter_serialised,
    run_columns,
    serialise,
    verify_bytes,
    write_atomic,
)


class BadInput(ValueError):
    """Input that is not what the operation reads (the message says why, and in Chinese)."""


@dataclass
class Allocation:
    """A run: the result document (its `assignments` left empty) and the assignments."""

    result: dict
    assignments: Assignments  # (or helper.SharedAssignments: the same bytes)
    helper_used: set[str] = field(default_factory=set)  # what a helper process did

    @property
    def ok(self) -> bool:
        return bool(self.result["checks"]["ok"])

    def to_bytes(self) -> bytes:
        """The result file."""
        return serialise(self.result, self.assignments)

    def document(self) -> dict:
        """The complete result document (assignments as dicts; not with a helper's run)."""
        return {**self.result, "assignments": self.assignments.records()}


def read_source(path: str, shared: SharedRun | None = None) -> Instance | dict:
    """The instance at `path` (read with the helper of `shared`), or the result document there
    (for explain and diff)."""
    raw = read_file(path)
    inst = shared.read(raw) if shared is not None else read_typed(raw)
    if inst is not None:
        return inst
    doc = loads(raw, path)  # the ordinary path, which names every problem
    del raw
    if isinstance(doc, dict) and doc.get("format") == RESULT_FORMAT:
        return doc
    return parse_instance(doc)


def not_an_instance(path: str) -> BadInput:
    return BadInput(
        f"{path} is an allocation result ({RESULT_FORMAT}), not an instance:"
        " only --explain and --diff read a result"
        " / 这是分配结果文件，不是分配实例：只有 --explain 和 --diff 可以读取结果文件"
    )


def allocate(inst: Instance, progress=None) -> Allocation:
    """Allocate an instance in this process."""
    return Allocation(*run_columns(inst, progress))


def allocate_to_file(
    instance_path: str,
    output: str,
    progress_for=None,
    say=None,
    thresholds: Thresholds = USUAL,
) -> Allocation:
    """Allocate the instance at `instance_path` and write the result to `output`, atomically
    and piece by piece. A large run shares its work with a helper process (helper.py), which
    changes no byte. `progress_for(inst)` gives a callback per (category, zone) placed, or
    None; `say(message)` is told each stage."""
    say = say or (lambda message: None)
    helper = start_helper(instance_path, thresholds)
    try:
        shared = SharedRun(helper, thresholds) if helper is not None else None
        say(f"reading and checking {instance_path} / 读取并校验实例")
        inst = read_source(instance_path, shared)
        if not isinstance(inst, Instance):
            raise not_an_instance(instance_path)
        stages = "ranking, placing, certifying, explaining / 排名、分配、校验、说明"
        say(f"{inst.n} applicants: {stages}")
        progress = progress_for(inst) if progress_for is not None else None
        if shared is None:
            allocation = allocate(inst, progress)
        else:
            allocation = Allocation(*shared.run(inst, progress), helper_used=shared.used)
        say("writing the result / 写出结果")
        write(output, iter_serialised(allocation.result, allocation.assignments))
        return allocation
    finally:
        if helper is not None:
            helper.close()


def write(path: str, data) -> None:
    """write_atomic, or BadInput saying why not (nothing is left behind)."""
    try:
        write_atomic(path, data)
    except OSError as exc:
        raise BadInput(
            f"cannot write {path}: {exc.strerror} / 无法写出文件，未写入任何内容"
        ) from None


def explain(result: dict, applicant_id: str) -> dict:
    """The assignment of one applicant in a result document."""
    for a in result["assignments"]:
        if a["applicant"] == applicant_id:
            return a
    raise BadInput(f"applicant '{applicant_id}' is not in this allocation / 本次分配中没有该申请人")


def diff(before_path: str, after: dict) -> dict:
    """What changed from the result at `before_path` to the result `after` (diff.py)."""
    return diff_results(load_json(before_path), after)


@dataclass
class Verification:
    recorded: str  # the result file's manifest.output_sha256
    recomputed: str
    same_as_rerun: bool | None  # whether a rerun of the instance gave the same bytes

    @property
    def ok(self) -> bool:
        return self.recorded == self.recomputed and self.same_as_rerun is not False


def verify(result_path: str, rerun: bytes | None = None) -> Verification:
    """Check the output hash of the result at `result_path` and, given the bytes of a rerun of
    its instance, that they are the same."""
    try:
        with open(result_path, "rb") as fh:
            raw = fh.read()
        _, recorded, recomputed = verify_bytes(raw)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadInput(f"{result_path}: not a readable result: {exc} / 无法读取结果文件") from None
    return Verification(recorded, recomputed, None if rerun is None else raw == rerun)


def vacancy(instance_path: str, previous_path: str, withdrawn: list[str]) -> dict:
    """The vacancy-round instance (补录) of the instance at `instance_path`: the admissions of
    the previous round's result are kept, those of `withdrawn` are freed."""
    return make_vacancy(load_json(instance_path), load_json(previous_path), withdrawn)


def make_vacancy(doc: dict, previous: dict, withdrawn: list[str]) -> dict:
    """A vacancy-round instance: the previous admissions are kept, the withdrawn are freed."""
    if not isinstance(previous, dict) or previous.get("format") != RESULT_FORMAT:
        raise InstanceError(["--previous: not a jifen.allocation-result/1 file / 不是分配结果文件"])
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InstanceError([f"field 'format': expected '{FORMAT}' / 格式标记错误"])
    ids = {a.get("applicant") for a in previous.get("assignments", [])}
    unknown = [w for w in withdrawn if w not in ids]
    if unknown:
        raise InstanceError(
            [
                f"--withdraw '{w}': not in the previous result / 上一轮结果中没有该申请人"
                for w in unknown
            ]
        )
    gone = set(withdrawn) | set((doc.get("vacancy") or {}).get("withdrawn", []))
    kept = {
        a["applicant"]: a["school"]
        for a in previous["assignments"]
        if a["status"] == "admitted" and a["applicant"] not in gone
    }
    return {
        **doc,
        "vacancy": {
            "previous_output_sha256": previous["manifest"]["output_sha256"],
            "admitted": dict(sorted(kept.items())),
            "withdrawn": sorted(gone),
        },
    }


def instance_bytes(doc: dict) -> bytes:
    """An instance document as a file (canonical JSON and LF)."""
    return canonical_bytes(doc) + b"\n"
