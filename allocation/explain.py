"""Cut-offs per (category, zone, school) and a reason code plus a Chinese explanation per applicant.

All point arithmetic is in integer hundredths; numbers are printed with at most two decimals.
The explanations name zones, categories and schools by the instance's `name` fields (石岐街道,
小学一年级, 石岐中心小学) and show an id only where the instance gives no name; a space
separates an id (or any Latin letter or digit) from the Chinese around it (`第 1 志愿 S002 录取`).
"""

from __future__ import annotations

import numpy as np

from .instance import Instance
from .outcome import Outcome, cells
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


def display_name(record: dict) -> str:
    """A zone's, category's or school's name as the explanations use it: its `name` where that
    is a string that is not blank, else its id."""
    name = record.get("name")
    return name.strip() if isinstance(name, str) and name.strip() else record["id"]


def category_label(category: dict) -> str:
    """积分入户 / 积分入学, with the category's name in brackets (`积分入学（小学一年级）`), or the
    name alone where it says the kind itself (`积分入户`); the id in brackets without a name."""
    kind = CAT_LABELS.get(category.get("kind"), "")
    name = display_name(category)
    if kind and kind in name and name != category["id"]:
        return name
    return f"{kind}（{name}）" if kind else name


def _latin(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def join(*parts: str) -> str:
    """The parts one after the other, with a space where a Latin letter or digit meets a Chinese
    character ("志愿", "S002", "录取" -> "志愿 S002 录取"; names are never changed inside)."""
    out = parts[0]
    for part in parts[1:]:
        if (
            out
            and part
            and ((_latin(out[-1]) and _cjk(part[0])) or (_cjk(out[-1]) and _latin(part[0])))
        ):
            out += " "
        out += part
    return out


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
    """A tie-break key's words and unit: the allocator's own for the usual keys, else the facts
    vocabulary's label (a round may break ties by any numeric fact), else the key itself."""
    if k in KEY_LABELS:
        return KEY_LABELS[k]
    from scoring.facts import FACT_SPECS  # only for an unusual key: scoring loads its tables

    spec = FACT_SPECS.get(k)
    return (spec.label, spec.unit) if spec is not None else (k, "")


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
    """The Chinese phrase of each Miss at the places of one kind (schools, or zone quotas),
    cached: per place where it depends only on the place (`fixed`), per place and points for
    "cut-off X, you are Y short" (`short`)."""

    def __init__(self, inst, points: list[int], labels: list[str], last: list[int], numbers):
        self.points, self.labels, self.last, self.numbers = points, labels, last, numbers
        self.cut = [join(label, "录取分数线 ") for label in labels]  # "S002 录取分数线 "
        self.keys = inst.keys  # a key decides rarely: rows are read when needed
        self.tie_break = inst.tie_break
        self.kinds = len(Miss)
        self.fixed: list[str | None] = [None] * (len(labels) * self.kinds)  # place * kinds + miss
        self.short: list[dict[int, str]] = [{} for _ in labels]  # per place: points -> phrase

    def __call__(self, miss: int, place: int, a: int) -> str:
        """Why `place` missed applicant `a`."""
        if miss == Miss.POINTS_SHORT:
            p = self.points[a]
            phrase = self.short[place].get(p)
            if phrase is None:
                phrase = self.short[place][p] = self._phrase(miss, place, p)
            return phrase
        if miss == Miss.KEY_SHORT:  # (depends on the keys: not cached)
            return self._key_short(place, a)
        phrase = self.fixed[place * self.kinds + miss]
        if phrase is None:
            phrase = self.fixed[place * self.kinds + miss] = self._phrase(miss, place, 0)
        return phrase

    def _phrase(self, miss: int, place: int, p: int) -> str:
        f, label, cut = self.numbers, self.labels[place], self.cut[place]
        if miss == Miss.NO_SEATS:
            return join(label, "没有学位")
        if miss == Miss.QUOTA_USED:
            return join(label, "尚有空位，但本镇街指标已用完")
        if miss == Miss.FAMILY:
            return join(label, "的最后学位已按家庭同校规则录取了排名在您之后的同一家庭子女")
        cp = self.points[self.last[place]]
        if miss == Miss.POINTS_SHORT:
            return f"{cut}{f(cp)} 分，您差 {f(cp - p)} 分"
        if miss == Miss.LOST_LOTTERY:
            return (
                f"{cut}{f(cp)} 分，您与最后录取者积分和排序条件完全相同，由公开抽签决定，您未抽中"
            )
        return join(label, f"在 {f(cp)} 分同分同条件的人数超过剩余学位，按同分同不落规则均未录取")

    def _key_short(self, place: int, a: int) -> str:
        f, last = self.numbers, self.last[place]
        ka, kb = self.keys[a].tolist(), self.keys[last].tolist()
        j = next(j for j in range(len(ka)) if ka[j] != kb[j])
        name, unit = _key_label(self.tie_break[j])
        return (
            f"{self.cut[place]}{f(self.points[last])} 分，"
            + join("您同分，但", name, "为 ", join(f(ka[j]), unit), "，少于最后录取者的 ")
            + join(f(kb[j]), unit)
        )


class _Numbers(dict):
    """fmt() of integer hundredths, cached (call it, or .get() the common ones)."""

    def __call__(self, h: int) -> str:
        text = self.get(h)
        if text is None:
            text = self[h] = fmt(h)
        return text


class _ZoneTexts:
    """The sentences that depend only on the (category, zone), per index category * zones + zone."""

    def __init__(self, inst: Instance, out: Outcome):
        nz = len(inst.zones)
        cell = inst.cat.astype(np.int64) * nz + inst.zone
        admitted = np.bincount(cell[out.admitted], minlength=len(inst.categories) * nz).tolist()
        zone_name = [display_name(z) for z in inst.zones]
        cat_label = [category_label(c) for c in inst.categories]
        self.label, self.quota, self.household, self.quota_label = [], [], [], []
        self.ranked_in = []  # "分，在石岐街道积分入学（小学一年级）排名第 "
        self.ineligible, self.withdrawn, self.admitted, self.admitted_tie = [], [], [], []
        self.tie_rejected = []
        for k in range(len(inst.categories) * nz):
            c, z = divmod(k, nz)
            kind = inst.categories[c]["kind"]
            label = join(zone_name[z], cat_label[c])
            q = out.zone_quota[(c, z)]
            self.label.append(label)
            self.ranked_in.append(join("分，在", label, "排名第 "))
            self.quota.append(q)
            self.household.append(kind == "household")
            self.quota_label.append(f"本镇街指标 {q} 个，")
            self.ineligible.append(
                join("您不符合本次", label, "的申请条件，未参加排名。")
                + "不符合的具体条件可在申请进度查询中查看；如有疑问，请到所在镇街窗口咨询。"
            )
            self.withdrawn.append(join("您已放弃本次", label, "的申请，不再参加分配。"))
            self.admitted.append(f"本镇街指标 {q} 个，您已获得入户指标。")
            self.admitted_tie.append(
                f"本镇街指标 {q} 个，您与最后一名同分同条件，按同分同落规则一并获得指标。"
            )
            self.tie_rejected.append(
                f"本镇街指标 {q} 个，轮到您的分数段时剩余 {q - admitted[k]} 个，与您积分和排序"
                "条件完全相同的申请人多于剩余指标，按同分同不落规则均不录取，未获入户指标。"
            )


def explain_all(inst: Instance, out: Outcome, lo: int = 0, hi: int | None = None) -> list[str]:
    """The Chinese explanation of applicants lo..hi-1 (default all, id order), from their
    reasons and misses (reasons.py)."""
    return _Explainer(inst, out, lo, inst.n if hi is None else hi).texts()


class _Explainer:
    """Explaining applicants lo..hi-1. Everything that depends only on the (category, zone) or
    the school is made once, the phrases are cached per (school or zone, points), and the
    per-applicant columns are read as lists, indexed like all applicants (the loop over a
    million applicants is the slowest step of a run)."""

    def __init__(self, inst: Instance, out: Outcome, lo: int, hi: int):
        self.lo, self.hi = lo, hi
        reasons = out.reasons

        def part(values) -> list:  # filled for lo..hi-1 only
            values = values[lo:hi]
            return [None] * lo + (values.tolist() if isinstance(values, np.ndarray) else values)

        self.code, self.zone_rank = part(reasons.code), part(out.zone_rank)
        self.choice_rank, self.school = part(out.choice_rank), part(out.school)
        self.accept_any, self.zone_miss = part(inst.accept_any), part(reasons.miss_in_zone)
        self.cell = part(cells(inst))
        self.choices = inst.choices
        counts = inst.choice_counts
        first = int(counts[:lo].sum())  # the misses of lo..hi-1, and where each one's start
        self.at_choice = reasons.miss_at_choice[first : first + int(counts[lo:hi].sum())].tolist()
        self.miss_start = [0] * lo + (np.cumsum(counts[lo:hi]) - counts[lo:hi]).tolist()
        self.last_z = reasons.last_in_zone.tolist()
        self.points = inst.points.tolist()
        self.zone = _ZoneTexts(inst, out)
        self.school_name = [display_name(s) for s in inst.schools]
        # between Chinese on both sides ("被…录取"): a name as it is, an id with spaces around
        self.school_mid = [join("被", name, "录")[1:-1] for name in self.school_name]
        last_s = reasons.last_at_school.tolist()
        self.number = _Numbers()
        self.at_school = _Phrases(inst, self.points, self.school_name, last_s, self.number)
        self.at_zone = _Phrases(inst, self.points, self.zone.quota_label, self.last_z, self.number)
        self.n_schools = len(inst.schools)
        self.plain: dict[int, str] = {}  # rank * schools + s: "admitted at choice rank to s"

    def texts(self) -> list[str]:
        code, cell, zone_rank, points = self.code, self.cell, self.zone_rank, self.points
        school, choice_rank, plain, n_schools = (
            self.school,
            self.choice_rank,
            self.plain,
            self.n_schools,
        )
        zone, number = self.zone, self.number
        ranked_in, in_household = zone.ranked_in, zone.household
        # the codes as locals: looking a member up in the enum costs more than many texts
        ineligible, withdrawn, at_first_choice = (
            Reason.INELIGIBLE, Reason.WITHDRAWN, Reason.ADMITTED_CHOICE
        )  # fmt: skip
        admissions = frozenset(r for r in Reason if r.admits)
        texts = [""] * self.hi
        for a in range(self.lo, self.hi):
            r, k = code[a], cell[a]  # (k: the applicant's (category, zone) index)
            if r is ineligible:
                texts[a] = zone.ineligible[k]
                continue
            if r is withdrawn:
                texts[a] = zone.withdrawn[k]
                continue
            p = points[a]
            p = number.get(p) or number(p)
            head = f"您的积分 {p} {ranked_in[k]}{zone_rank[a]} 位。"
            if in_household[k]:
                texts[a] = head + self.household(a, r, k)
            elif r is at_first_choice and choice_rank[a] == 1:  # most: nothing missed
                s = school[a]
                texts[a] = head + (plain.get(n_schools + s) or self.admitted_at(1, s))
            elif r in admissions:
                texts[a] = head + self.school_admitted(a, r)
            else:
                texts[a] = head + self.school_not_admitted(a, r, k)
        return texts[self.lo :] if self.lo else texts

    def admitted_at(self, rank: int, s: int) -> str:
        key = rank * self.n_schools + s
        body = self.plain.get(key)
        if body is None:
            body = self.plain[key] = f"您已被第 {rank} 志愿{self.school_mid[s]}录取。"
        return body

    def missed(self, a: int, upto: int) -> list[str]:
        """The phrases of the first `upto` choices of `a` (the common ones straight from the
        caches of the school phrases)."""
        phrase, at_choice = self.at_school, self.at_choice
        short, fixed, kinds = phrase.short, phrase.fixed, phrase.kinds
        start, p, points_short = self.miss_start[a], self.points[a], Miss.POINTS_SHORT
        out = []
        for j, t in enumerate(self.choices[a][:upto]):
            miss = at_choice[start + j]
            cached = short[t].get(p) if miss == points_short else fixed[t * kinds + miss]
            out.append(cached or phrase(miss, t, a))
        return out

    def household(self, a: int, r: Reason, k: int) -> str:
        zone = self.zone
        if r is Reason.ADMITTED:
            return zone.admitted[k]
        if r is Reason.ADMITTED_TIE:
            return zone.admitted_tie[k]
        if r is Reason.ADMITTED_KEPT:
            return "您在上一轮已获得入户指标，本轮保留。"
        miss = self.zone_miss[a]
        if r is Reason.TIE_REJECTED and miss < 0:  # rejected with the tie group at the quota
            return zone.tie_rejected[k]
        return self.at_zone(miss, k, a) + "，未获入户指标。"

    def school_admitted(self, a: int, r: Reason) -> str:
        s, rank, name = self.school[a], self.choice_rank[a], self.school_mid[self.school[a]]
        if r is Reason.ADMITTED_KEPT:
            return f"您在上一轮已被{name}录取，本轮保留。"
        if r is Reason.ADMITTED_CHOICE:
            body = self.admitted_at(rank, s)
        elif r is Reason.ADMITTED_ANY:
            body = f"您服从区内调剂，已被{name}录取。"
        elif r is Reason.ADMITTED_FAMILY:
            at = f"第 {rank} 志愿" if rank else "调剂学校"
            body = f"您与同一家庭的子女一起被{at}{name}录取。"
        else:  # 同分同落
            at = f"第 {rank} 志愿" if rank else "调剂学校"
            body = f"您与最后录取者同分同条件，按同分同落规则被{at}{name}录取。"
        misses = self.missed(a, rank - 1 if rank > 0 else len(self.choices[a]))
        return body + "前面的志愿未录取的原因：" + "；".join(misses) + "。" if misses else body

    def school_not_admitted(self, a: int, r: Reason, k: int) -> str:
        if r is Reason.NO_CHOICES:
            return "您没有填报志愿学校，也没有选择服从区内调剂，未获学位。"
        if r is Reason.QUOTA_EXHAUSTED:
            last = self.last_z[k]
            cut = f"，最后录取积分 {self.number(self.points[last])} 分" if last >= 0 else ""
            return f"本镇街学位指标 {self.zone.quota[k]} 个已全部录取完毕{cut}，您未获学位。"
        misses = self.missed(a, len(self.choices[a]))
        if self.accept_any[a]:
            misses.append("您选择了服从调剂，但本镇街其他学校在轮到您时已无空位")
        if r is Reason.FAMILY_NO_JOINT_SEAT:
            return (
                "您家庭的子女须同校录取，轮到您家庭时没有一所共同志愿学校剩余足够学位，"
                "因此未获学位。各志愿情况：" + "；".join(misses) + "。"
            )
        return "您未获学位：" + "；".join(misses) + "。"
