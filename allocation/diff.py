"""What-if comparison of two results: who moved, how quotas and cut-offs changed."""

from __future__ import annotations


def _key(c: dict) -> tuple:
    return (c["category"], c["zone"], c["school"] or "")


def diff_results(before: dict, after: dict) -> dict:
    a0 = {a["applicant"]: a for a in before.get("assignments", [])}
    a1 = {a["applicant"]: a for a in after.get("assignments", [])}
    moved = []
    for aid in sorted(set(a0) | set(a1)):
        x, y = a0.get(aid), a1.get(aid)
        sx = (x["status"], x["school"]) if x else ("absent", None)
        sy = (y["status"], y["school"]) if y else ("absent", None)
        if sx != sy:
            moved.append(
                {
                    "applicant": aid,
                    "before": {"status": sx[0], "school": sx[1]},
                    "after": {"status": sy[0], "school": sy[1]},
                }
            )
    c0 = {_key(c): c for c in before.get("cutoffs", [])}
    c1 = {_key(c): c for c in after.get("cutoffs", [])}
    cut = []
    for k in sorted(set(c0) | set(c1)):
        x, y = c0.get(k, {}), c1.get(k, {})
        fields = ("points", "keys", "admitted", "seats")
        if any(x.get(f) != y.get(f) for f in fields):
            cut.append(
                {
                    "category": k[0],
                    "zone": k[1],
                    "school": k[2] or None,
                    "before": {f: x.get(f) for f in fields},
                    "after": {f: y.get(f) for f in fields},
                }
            )
    quotas = []
    q0, q1 = before.get("quotas", {}), after.get("quotas", {})
    for c in sorted(set(q0) | set(q1)):
        for z in sorted(set(q0.get(c, {})) | set(q1.get(c, {}))):
            x, y = q0.get(c, {}).get(z), q1.get(c, {}).get(z)
            if x != y:
                quotas.append({"category": c, "zone": z, "before": x, "after": y})
    gained = sum(1 for m in moved if m["after"]["status"] == "admitted" != m["before"]["status"])
    lost = sum(1 for m in moved if m["before"]["status"] == "admitted" != m["after"]["status"])
    return {
        "moved": moved,
        "cutoffs": cut,
        "quotas": quotas,
        "summary": {"moved": len(moved), "newly_admitted": gained, "no_longer_admitted": lost},
    }


def format_diff(d: dict) -> str:
    s = d["summary"]
    lines = [
        f"{s['moved']} applicants changed outcome ({s['newly_admitted']} newly admitted, "
        f"{s['no_longer_admitted']} no longer admitted) / 结果变化 {s['moved']} 人"
    ]
    for q in d["quotas"]:
        lines.append(f"quota {q['category']}/{q['zone']}: {q['before']} -> {q['after']}")
    for c in d["cutoffs"]:
        b, a = c["before"], c["after"]
        where = f"{c['category']}/{c['zone']}/{c['school'] or '(zone)'}"
        lines.append(
            f"cut-off {where}: points {b['points']} -> {a['points']}, "
            f"admitted {b['admitted']} -> {a['admitted']} of {a['seats']}"
        )
    for m in d["moved"]:
        b, a = m["before"], m["after"]
        lines.append(
            f"{m['applicant']}: {b['status']} {b['school'] or ''} -> {a['status']}"
            f" {a['school'] or ''}"
        )
    return "\n".join(line.rstrip() for line in lines)
