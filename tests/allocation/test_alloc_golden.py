"""The golden instance: a small published instance whose result is pinned byte for byte.

fixtures/golden-instance.json has three zones, a household and a school category, five
schools, two families (one placed together, one without a joint seat inside the quota), an
ineligible applicant, an applicant without choices, and ties on points and key that the lottery
decides at a household and at a school cut-off. Any change of the published rules (quotas,
ranking, lottery, placement, reason codes, explanations, cut-offs, checks, the canonical form or
the hashes) changes fixtures/golden-result.json and fails here. If the change is meant:
regenerate it with `jifen allocate tests/allocation/fixtures/golden-instance.json -o
tests/allocation/fixtures/golden-result.json`, review the diff line by line, and say in
docs/allocation.md what changed.
"""

from __future__ import annotations

import hashlib
import json
import platform
from importlib import metadata
from pathlib import Path

from alloc_testlib import published_lottery, published_priority

from app.cli import main

FIXTURES = Path(__file__).parent / "fixtures"
INSTANCE = FIXTURES / "golden-instance.json"
PINNED = FIXTURES / "golden-result.json"
INPUT_SHA256 = "b4542954107f098dc475cf0189c4c6d2079ec7204408688f527e25e5d4e63e1e"
OUTPUT_SHA256 = "ac81014b5ba120c822d9306daf6f2b5d59a5eba8ec4e662106a78419c6ffcc91"


def canonical(doc) -> bytes:
    """The canonical JSON of docs/allocation.md ("How to verify a published result")."""
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def output_sha256(doc: dict) -> str:
    blank = json.loads(json.dumps(doc))
    blank["manifest"]["output_sha256"] = ""
    return hashlib.sha256(canonical(blank)).hexdigest()


def allocate_golden(tmp_path) -> bytes:
    out = tmp_path / "result.json"
    assert main(["allocate", str(INSTANCE), "-o", str(out), "--quiet"]) == 0
    return out.read_bytes()


def test_the_result_bytes_are_pinned(tmp_path):
    """The bytes, except `manifest.versions`, which records the installed packages (and with
    them `output_sha256`): those are checked to be the installed ones, then set to the pinned
    file's, and the hash recomputed by the published formula."""
    raw = allocate_golden(tmp_path)
    got, pinned = json.loads(raw), json.loads(PINNED.read_bytes())
    assert raw == canonical(got) + b"\n"  # the file is the canonical JSON and one LF
    assert got["manifest"]["output_sha256"] == output_sha256(got)
    assert got["manifest"]["versions"] == {
        "jifen": metadata.version("jifen"),
        "numpy": metadata.version("numpy"),
        "ortools": metadata.version("ortools"),
        "python": platform.python_version(),
    }
    got["manifest"]["versions"] = pinned["manifest"]["versions"]
    got["manifest"]["output_sha256"] = output_sha256(got)
    assert canonical(got) + b"\n" == PINNED.read_bytes()


def test_the_pinned_hashes():
    pinned = json.loads(PINNED.read_bytes())
    assert pinned["manifest"]["input_sha256"] == INPUT_SHA256
    assert pinned["manifest"]["output_sha256"] == OUTPUT_SHA256 == output_sha256(pinned)


def test_the_zone_ranks_follow_the_published_ranking_and_lottery():
    """Every zone rank is recomputed from the instance: points, key, then the lottery number
    from the published formula; the lottery decides two cut-offs, as the fixture intends."""
    doc = json.loads(INSTANCE.read_bytes())
    result = {a["applicant"]: a for a in json.loads(PINNED.read_bytes())["assignments"]}
    groups: dict[tuple[str, str], list[dict]] = {}
    for a in doc["applicants"]:
        if a.get("eligible", True):
            groups.setdefault((a["category"], a["zone"]), []).append(a)
    for members in groups.values():
        members.sort(key=lambda a: published_priority(doc, a))
        assert [result[a["id"]]["zone_rank"] for a in members] == list(range(1, len(members) + 1))
    assert result["H10"]["zone_rank"] is None
    for tied, cut_off in ((("H02", "H03"), "household quota"), (("P09", "P10"), "S03")):
        winner = min(tied, key=lambda i: published_lottery(doc["seed"], i))
        loser = max(tied, key=lambda i: published_lottery(doc["seed"], i))
        assert result[winner]["status"] == "admitted", cut_off
        assert result[loser]["reason"] == "lost_lottery", cut_off
        assert "由公开抽签决定，您未抽中" in result[loser]["explanation"]
