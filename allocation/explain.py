"""Cut-offs per (category, zone, school) and a reason code plus a Chinese explanation per applicant.

All point arithmetic is in integer hundredths; numbers are printed with at most two decimals.
"""

from __future__ import annotations

import numpy as np

from .instance import Instance
from .outcome import Outcome
from .reasons import Miss, Reason

KEY_LABELS = {
    "insured_months_city": ("本市社保缴费月数", "个月"),
    "insured_months_province": ("省内社保缴费月数", "个月"),
    "medical_insured_months_city": ("本市医保缴费月数", "个月"),
    "residence_permit_months": ("连续持有居住证月数", "个月"),
    "rented_months": ("在本市租房月数", "个月"),
    "housing_fund_months": ("住房公积金缴存月数", "个月"),
}

CAT_LABELS = {"household": "积分入户", "school": "积分入学"}


def num(h: int):
    """Integer hundredths -> JSON number with at most two decimals (int when whole)."""
    h = int(h)
    return h // 100 if h % 100 == 0 else h / 100


def fmt(h: int) -> str:
    h = int(h)
    if h % 100 == 0:
        return str(h // 100)
    return f"{h / 100:.2f}".rstrip("0")


def _key_label(k: str) -> tuple[str, str]:
    return KEY_LABELS.get(k, (k, ""))


def cutoffs(inst: Instance, out: Outcome) -> list[dict]:
    """Cut-off records: per (category, zone) and per school, the last admitted applicant."""
    nz = len(inst.zones)
    count_s = np.bincount(out.school[out.school >= 0], minlength=len(inst.schools))
    cell = inst.cat.astype(np.int64) * nz + inst.zone
    count_z = np.bincount(cell[out.admitted], minlength=len(inst.categories) * nz)
    last_s, last_z = out.reasons.last_at_school.tolist(), out.reasons.last_in_zone.tolist()

    def record(cat, zone, school, a, admitted, seats):
        r = {
            "category": inst.categories[cat]["id"],
            "zone": inst.zones[zone]["id"],
            "school": school,
            "admitted": int(admitted),
            "seats": int(seats),
            "full": bool(admitted >= seats),
            "points": None,
            "keys": {},
            "zone_rank": None,
        }
        if a >= 0:
            r["points"] = num(inst.points[a])
            r["keys"] = {k: num(inst.keys[a, j]) for j, k in enumerate(inst.tie_break)}
            r["zone_rank"] = int(out.zone_rank[a])
        return r

    recs = []
    for c in range(len(inst.categories)):
        for z in range(nz):
            k = c * nz + z
            recs.append(record(c, z, None, last_z[k], count_z[k], out.zone_quota[(c, z)]))
    for s, sch in enumerate(inst.schools):
        c, z = int(inst.school_cat[s]), int(inst.school_zone[s])
        recs.append(record(c, z, sch["id"], last_s[s], count_s[s], inst.school_seats[s]))
    recs.sort(key=lambda r: (r["category"], r["zone"], r["school"] or ""))
    return recs


class _Phrases:
    """The Chinese phrase of each Miss, for a school or a zone quota ("cut-off X, you are Y
    short"), cached where it depends only on the place and the points."""

    def __init__(self, inst: Instance, pts: list[int]):
        self.pts = pts
        self.keys = inst.keys  # a key decides rarely: rows are read when needed
        self.tie_break = inst.tie_break
        self.cache: dict = {}
        self.fmt_cache: dict[int, str] = {}

    def f(self, h: int) -> str:
        r = self.fmt_cache.get(h)
        if r is None:
            r = self.fmt_cache[h] = fmt(h)
        return r

    def __call__(self, miss: int, place, label: str, a: int, last: int) -> str:
        """Why `place` (labelled `label`; its last admitted applicant `last`) missed `a`."""
        p = self.pts[a]
        key = (place, miss, p)
        r = self.cache.get(key)
        if r is None:
            if miss == Miss.KEY_SHORT:  # (depends on the keys: not cached)
                return self._key_short(label, a, last)
            r = self.cache[key] = self._phrase(miss, label, p, last)
        return r

    def _phrase(self, miss: int, label: str, p: int, last: int) -> str:
        f = self.f
        if miss == Miss.NO_SEATS:
            return f"{label}没有学位"
        if miss == Miss.QUOTA_USED:
            return f"{label}尚有空位，但本区指标已用完"
        if miss == Miss.FAMILY:
            return f"{label}的最后学位已按家庭同校规则录取了排名在您之后的同一家庭子女"
        cp = self.pts[last]
        if miss == Miss.POINTS_SHORT:
            return f"{label}录取分数线 {f(cp)} 分，您差 {f(cp - p)} 分"
        if miss == Miss.LOST_LOTTERY:
            return (
                f"{label}录取分数线 {f(cp)} 分，您与最后录取者积分和排序条件完全相同，"
                "由公开抽签决定，您未抽中"
            )
        return f"{label}在 {f(cp)} 分同分同条件的人数超过剩余学位，按同分同不落规则均未录取"

    def _key_short(self, label: str, a: int, last: int) -> str:
        f = self.f
        ka, kb = self.keys[a].tolist(), self.keys[last].tolist()
        j = next(j for j in range(len(ka)) if ka[j] != kb[j])
        name, unit = _key_label(self.tie_break[j])
        return (
            f"{label}录取分数线 {f(self.pts[last])} 分，您同分，但{name}为 {f(ka[j])}{unit}，"
            f"少于最后录取者的 {f(kb[j])}{unit}"
        )


class _ZoneTexts:
    """The sentences that depend only on the (category, zone), per index category * zones + zone."""

    def __init__(self, inst: Instance, out: Outcome):
        nz = len(inst.zones)
        cell = inst.cat.astype(np.int64) * nz + inst.zone
        admitted = np.bincount(cell[out.admitted], minlength=len(inst.categories) * nz).tolist()
        zone_name = [z.get("name") or z["id"] for z in inst.zones]
        self.label, self.quota, self.household, self.quota_label = [], [], [], []
        self.ineligible, self.withdrawn, self.admitted, self.admitted_tie = [], [], [], []
        self.tie_rejected = []
        for k in range(len(inst.categories) * nz):
            c, z = divmod(k, nz)
            kind = inst.categories[c]["kind"]
            label = f"{zone_name[z]}{CAT_LABELS.get(kind, '')}（{inst.categories[c]['id']}）"
            q = out.zone_quota[(c, z)]
            self.label.append(label)
            self.quota.append(q)
            self.household.append(kind == "household")
            self.quota_label.append(f"本区指标 {q} 个，")
            self.ineligible.append(
                f"您不符合本次{label}的申请资格，未参加排名。如有疑问，请到所在镇街窗口咨询。"
            )
            self.withdrawn.append(f"您已放弃本次{label}，不再参加分配。")
            self.admitted.append(f"本区指标 {q} 个，您已获得入户指标。")
            self.admitted_tie.append(
                f"本区指标 {q} 个，您与最后一名同分同条件，按同分同落规则一并获得指标。"
            )
            self.tie_rejected.append(
                f"本区指标 {q} 个，轮到您的分数段时剩余 {q - admitted[k]} 个，与您积分和排序条件"
                "完全相同的申请人多于剩余指标，按同分同不落规则均不录取，未获入户指标。"
            )


def explain_all(inst: Instance, out: Outcome, lo: int = 0, hi: int | None = None) -> list[str]:
    """The Chinese explanation of applicants lo..hi-1 (default all, id order), from their
    reasons and misses (reasons.py).

    Everything that depends only on the (category, zone) or the school is made once, the
    phrases are cached per (school or zone, points), and the per-applicant columns are read as
    lists: a million explanations take about two seconds.
    """
    n = inst.n
    hi = n if hi is None else hi
    reasons = out.reasons

    def part(values) -> list:  # indexed like all applicants, filled for lo..hi-1 only
        values = values[lo:hi]
        return [None] * lo + (values.tolist() if isinstance(values, np.ndarray) else values)

    code, zone_rank, choice_rank = part(reasons.code), part(out.zone_rank), part(out.choice_rank)
    school, accept_any, zone_miss = (
        part(out.school),
        part(inst.accept_any),
        part(reasons.miss_in_zone),
    )
    cell = part(inst.cat.astype(np.int64) * len(inst.zones) + inst.zone)
    choices = inst.choices
    counts = inst.choice_counts
    first = int(counts[:lo].sum())  # the misses of lo..hi-1, and where each one's start
    at_choice = reasons.miss_at_choice[first : first + int(counts[lo:hi].sum())].tolist()
    miss_start = [0] * lo + (np.cumsum(counts[lo:hi]) - counts[lo:hi]).tolist()
    last_s, last_z = reasons.last_at_school.tolist(), reasons.last_in_zone.tolist()
    points = inst.points.tolist()
    phrase = _Phrases(inst, points)
    zone = _ZoneTexts(inst, out)
    school_name = [f"{s['id']}（{s['name']}）" if s.get("name") else s["id"] for s in inst.schools]
    plain: dict[tuple[int, int], str] = {}  # "admitted at choice k to school s"
    # the codes as locals: looking a member up in the enum costs more than most texts
    ineligible, withdrawn, admitted, admitted_tie = (
        Reason.INELIGIBLE, Reason.WITHDRAWN, Reason.ADMITTED, Reason.ADMITTED_TIE
    )  # fmt: skip
    kept, choice, any_school, family = (
        Reason.ADMITTED_KEPT, Reason.ADMITTED_CHOICE, Reason.ADMITTED_ANY, Reason.ADMITTED_FAMILY
    )  # fmt: skip
    tie_rejected, no_choices, quota_exhausted, no_joint_seat = (
        Reason.TIE_REJECTED, Reason.NO_CHOICES, Reason.QUOTA_EXHAUSTED,
        Reason.FAMILY_NO_JOINT_SEAT,
    )  # fmt: skip
    admissions = frozenset(r for r in Reason if r.admits)

    cached = phrase.cache  # (the common phrases straight from the cache)

    def missed(a: int, upto: int) -> list[str]:  # the phrases of a's first `upto` choices
        start, p = miss_start[a], points[a]
        return [
            cached.get((t, at_choice[start + j], p))
            or phrase(at_choice[start + j], t, school_name[t], a, last_s[t])
            for j, t in enumerate(choices[a][:upto])
        ]

    def household(a: int, r: Reason, k: int) -> str:
        if r is admitted:
            return zone.admitted[k]
        if r is admitted_tie:
            return zone.admitted_tie[k]
        if r is kept:
            return "您在上一轮已获得入户指标，本轮保留。"
        if r is tie_rejected and zone_miss[a] < 0:  # rejected with the tie group at the quota
            return zone.tie_rejected[k]
        return (
            phrase(zone_miss[a], ("zone", k), zone.quota_label[k], a, last_z[k])
            + "，未获入户指标。"
        )

    def school_admitted(a: int, r: Reason) -> str:
        s, rank = school[a], choice_rank[a]
        if r is kept:
            return f"您在上一轮已被 {school_name[s]}录取，本轮保留。"
        if r is choice:
            body = plain.get((rank, s))
            if body is None:
                body = plain[(rank, s)] = f"您已被第 {rank} 志愿 {school_name[s]}录取。"
        elif r is any_school:
            body = f"您服从区内调剂，已被 {school_name[s]}录取。"
        elif r is family:
            at = f"第 {rank} 志愿 " if rank else "调剂学校 "
            body = f"您与同一家庭的子女一起被{at}{school_name[s]}录取。"
        else:  # 同分同落
            at = f"第 {rank} 志愿" if rank else "调剂学校"
            body = f"您与最后录取者同分同条件，按同分同落规则被{at} {school_name[s]}录取。"
        misses = missed(a, rank - 1 if rank > 0 else len(choices[a]))
        return body + "前面的志愿未录取的原因：" + "；".join(misses) + "。" if misses else body

    def school_not_admitted(a: int, r: Reason, k: int) -> str:
        if r is no_choices:
            return "您没有填报志愿学校，也没有选择服从区内调剂，未获学位。"
        if r is quota_exhausted:
            last = last_z[k]
            cut = f"，最后录取积分 {phrase.f(points[last])} 分" if last >= 0 else ""
            return f"本区学位指标 {zone.quota[k]} 个已全部录取完毕{cut}，您未获学位。"
        misses = missed(a, len(choices[a]))
        if accept_any[a]:
            misses.append("您选择了服从调剂，但区内其他学校在轮到您时已无空位")
        if r is no_joint_seat:
            return (
                "您家庭的子女须同校录取，轮到您家庭时没有一所共同志愿学校剩余足够学位，"
                "因此未获学位。各志愿情况：" + "；".join(misses) + "。"
            )
        return "您未获学位：" + "；".join(misses) + "。"

    texts = [""] * hi
    number, formatted = phrase.f, phrase.fmt_cache
    label, in_household = zone.label, zone.household
    for a in range(lo, hi):
        r, k = code[a], cell[a]  # (k: the applicant's (category, zone) index)
        if r is ineligible:
            texts[a] = zone.ineligible[k]
            continue
        if r is withdrawn:
            texts[a] = zone.withdrawn[k]
            continue
        p = points[a]
        head = (
            f"您的积分 {formatted.get(p) or number(p)} 分，在{label[k]}排名第 {zone_rank[a]} 位。"
        )
        if in_household[k]:
            texts[a] = head + household(a, r, k)
        elif r is choice and choice_rank[a] == 1:  # most admissions: nothing missed
            body = plain.get((1, school[a]))
            if body is None:
                body = plain[(1, school[a])] = f"您已被第 1 志愿 {school_name[school[a]]}录取。"
            texts[a] = head + body
        elif r in admissions:
            texts[a] = head + school_admitted(a, r)
        else:
            texts[a] = head + school_not_admitted(a, r, k)
    return texts if lo == 0 and hi == n else texts[lo:hi]
