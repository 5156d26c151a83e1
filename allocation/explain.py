"""Cut-offs per (category, zone, school) and a reason code plus a Chinese explanation per applicant.

All point arithmetic is in integer hundredths; numbers are printed with at most two decimals.
"""

from __future__ import annotations

import numpy as np

from .engine import Outcome
from .instance import Instance

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


def cutoffs(inst: Instance, out: Outcome) -> tuple[list[dict], dict, dict]:
    """Cut-off records, plus the last admitted applicant per school and per (category, zone)."""
    nz = len(inst.zones)
    S = len(inst.schools)
    adm = out.admitted & (out.pos >= 0)
    last_s: dict[int, int] = {}
    count_s = np.bincount(out.school[out.school >= 0], minlength=S)
    pa = np.nonzero(adm & (out.school >= 0))[0]
    if len(pa):
        o = pa[np.lexsort((out.pos[pa], out.school[pa]))]
        last = np.ones(len(o), dtype=bool)
        last[:-1] = out.school[o[1:]] != out.school[o[:-1]]
        for a in o[last].tolist():
            last_s[int(out.school[a])] = a
    zc = inst.cat.astype(np.int64) * nz + inst.zone
    last_z: dict[tuple[int, int], int] = {}
    count_z = np.bincount(zc[out.admitted], minlength=len(inst.categories) * nz)
    za = np.nonzero(adm)[0]
    if len(za):
        o = za[np.lexsort((out.pos[za], zc[za]))]
        last = np.ones(len(o), dtype=bool)
        last[:-1] = zc[o[1:]] != zc[o[:-1]]
        for a in o[last].tolist():
            last_z[divmod(int(zc[a]), nz)] = a
    recs = []

    def rec(cat, zone, school, a, admitted, seats):
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
        if a is not None:
            r["points"] = num(inst.points[a])
            r["keys"] = {k: num(inst.keys[a, j]) for j, k in enumerate(inst.tie_break)}
            r["zone_rank"] = int(out.zone_rank[a])
        return r

    for c in range(len(inst.categories)):
        for z in range(nz):
            recs.append(
                rec(c, z, None, last_z.get((c, z)), count_z[c * nz + z], out.zone_quota[(c, z)])
            )
    for s, sch in enumerate(inst.schools):
        recs.append(
            rec(
                int(inst.school_cat[s]),
                int(inst.school_zone[s]),
                sch["id"],
                last_s.get(s),
                count_s[s],
                inst.school_seats[s],
            )
        )
    recs.sort(key=lambda r: (r["category"], r["zone"], r["school"] or ""))
    return recs, last_s, last_z


class _Why:
    """Why an applicant did not get a school (or the zone quota): code and Chinese phrase.

    Works on plain Python lists and caches the common phrase "cut-off X, you are Y short".
    """

    def __init__(self, inst: Instance, out: Outcome):
        self.pts = inst.points.tolist()
        self.keys = [tuple(r) for r in inst.keys.tolist()]
        self.pos = out.pos.tolist()
        self.tie_break = inst.tie_break
        self.lottery = inst.tie_policy == "lottery"
        self.cache: dict = {}
        self.fmt_cache: dict[int, str] = {}

    def f(self, h: int) -> str:
        r = self.fmt_cache.get(h)
        if r is None:
            r = self.fmt_cache[h] = fmt(h)
        return r

    def __call__(self, a: int, last: int | None, label: str, free: bool):
        if last is None:
            if free:
                return "quota_exhausted", f"{label}尚有空位，但本区指标已用完"
            return "below_cutoff", f"{label}没有学位"
        p, cp = self.pts[a], self.pts[last]
        if p < cp:
            key = (label, p, cp)
            r = self.cache.get(key)
            if r is None:
                r = self.cache[key] = (
                    "below_cutoff",
                    f"{label}录取分数线 {self.f(cp)} 分，您差 {self.f(cp - p)} 分",
                )
            return r
        f = self.f
        if p == cp:
            ka, kb = self.keys[a], self.keys[last]
            if ka < kb:
                for j, k in enumerate(self.tie_break):
                    if ka[j] != kb[j]:
                        name, unit = _key_label(k)
                        return "below_cutoff", (
                            f"{label}录取分数线 {f(cp)} 分，您同分，但{name}为 {f(ka[j])}{unit}，"
                            f"少于最后录取者的 {f(kb[j])}{unit}"
                        )
            if ka == kb:
                if self.lottery and self.pos[a] > self.pos[last]:
                    return "lost_lottery", (
                        f"{label}录取分数线 {f(cp)} 分，您与最后录取者积分和排序条件完全相同，"
                        "由公开抽签决定，您未抽中"
                    )
                return "tie_rejected", (
                    f"{label}在 {f(cp)} 分同分同条件的人数超过剩余学位，按同分同不落规则均未录取"
                )
        if free:
            return "quota_exhausted", f"{label}尚有空位，但本区指标已用完"
        return "family", f"{label}的最后学位已按家庭同校规则录取了排名在您之后的同一家庭子女"


def explain_all(inst: Instance, out: Outcome, last_s: dict, last_z: dict) -> tuple[list, list]:
    """Final reason code and Chinese explanation for every applicant (id order)."""
    n = inst.n
    nz = len(inst.zones)
    reasons = list(out.reason)
    texts = [""] * n
    cats = inst.categories
    zname = [z.get("name") or z["id"] for z in inst.zones]
    sname = [f"{s['id']}（{s['name']}）" if s.get("name") else s["id"] for s in inst.schools]
    count_s = np.bincount(out.school[out.school >= 0], minlength=len(inst.schools)).tolist()
    seats = inst.school_seats.tolist()
    zc = inst.cat.astype(np.int64) * nz + inst.zone
    zc_counts = np.bincount(zc[out.admitted], minlength=len(inst.categories) * nz).tolist()
    zcnt = {divmod(k, nz): v for k, v in enumerate(zc_counts)}
    pts = inst.points.tolist()
    whynot = _Why(inst, out)
    fm = whynot.f
    anyl = inst.accept_any.tolist()
    labels = {}
    plain: dict[tuple[int, int], str] = {}
    zr = out.zone_rank.tolist()
    cr = out.choice_rank.tolist()
    sch = out.school.tolist()
    catl = inst.cat.tolist()
    zonel = inst.zone.tolist()
    for a in range(n):
        r = reasons[a]
        c, z = catl[a], zonel[a]
        kind = cats[c]["kind"]
        lab = labels.get((c, z))
        if lab is None:
            lab = labels[(c, z)] = (
                f"{zname[z]}{CAT_LABELS[kind]}（{cats[c]['id']}）",
                out.zone_quota[(c, z)],
            )
        clabel, q = lab
        if r == "ineligible":
            texts[a] = (
                f"您不符合本次{clabel}的申请资格，未参加排名。如有疑问，请到所在镇街窗口咨询。"
            )
            continue
        if r == "withdrawn":
            texts[a] = f"您已放弃本次{clabel}，不再参加分配。"
            continue
        head = f"您的积分 {fm(pts[a])} 分，在{clabel}排名第 {zr[a]} 位。"
        if kind == "household":
            if r == "admitted":
                texts[a] = head + f"本区指标 {q} 个，您已获得入户指标。"
            elif r == "admitted_tie":
                texts[a] = (
                    head + f"本区指标 {q} 个，您与最后一名同分同条件，按同分同落规则一并获得指标。"
                )
            elif r == "admitted_kept":
                texts[a] = head + "您在上一轮已获得入户指标，本轮保留。"
            elif r == "tie_rejected":
                left = q - zcnt.get((c, z), 0)
                texts[a] = head + (
                    f"本区指标 {q} 个，轮到您的分数段时剩余 {left} 个，与您积分和排序条件完全相同的"
                    "申请人多于剩余指标，按同分同不落规则均不录取，未获入户指标。"
                )
            else:
                code, why = whynot(a, last_z.get((c, z)), f"本区指标 {q} 个，", False)
                if code == "family":
                    code = "below_cutoff"
                reasons[a] = code
                texts[a] = head + why + "，未获入户指标。"
            continue
        s = sch[a]
        if r.startswith("admitted"):
            misses = []
            if r != "admitted_kept":
                lim = cr[a] - 1 if cr[a] > 0 else len(inst.choices[a])
                for t in inst.choices[a][:lim]:
                    _, why = whynot(a, last_s.get(t), sname[t], count_s[t] < seats[t])
                    misses.append(why)
            if r == "admitted_kept":
                body = f"您在上一轮已被 {sname[s]}录取，本轮保留。"
            elif r == "admitted_any":
                body = f"您服从区内调剂，已被 {sname[s]}录取。"
            elif r == "admitted_family":
                rank = f"第 {cr[a]} 志愿 " if cr[a] else "调剂学校 "
                body = f"您与同一家庭的子女一起被{rank}{sname[s]}录取。"
            elif r == "admitted_tie":
                body = f"您与最后录取者同分同条件，按同分同落规则被第 {cr[a]} 志愿 {sname[s]}录取。"
                if not cr[a]:
                    body = f"您与最后录取者同分同条件，按同分同落规则被调剂学校 {sname[s]}录取。"
            else:
                body = plain.get((cr[a], s))
                if body is None:
                    body = plain[(cr[a], s)] = f"您已被第 {cr[a]} 志愿 {sname[s]}录取。"
            if misses:
                body += "前面的志愿未录取的原因：" + "；".join(misses) + "。"
            texts[a] = head + body
            continue
        # school, not admitted
        lst = inst.choices[a]
        if not lst and not anyl[a]:
            reasons[a] = "no_choices"
            texts[a] = head + "您没有填报志愿学校，也没有选择服从区内调剂，未获学位。"
            continue
        misses = []
        codes = []
        for t in lst:
            code, why = whynot(a, last_s.get(t), sname[t], count_s[t] < seats[t])
            misses.append(why)
            codes.append(code)
        if anyl[a]:
            misses.append("您选择了服从调剂，但区内其他学校在轮到您时已无空位")
        quota_hit = r == "quota_exhausted" and (not codes or bool(anyl[a]))
        if "quota_exhausted" in codes or quota_hit:
            reasons[a] = "quota_exhausted"
            lz = last_z.get((c, z))
            cut = f"，最后录取积分 {fmt(pts[lz])} 分" if lz is not None else ""
            texts[a] = head + f"本区学位指标 {q} 个已全部录取完毕{cut}，您未获学位。"
            continue
        if r == "family_no_joint_seat":
            texts[a] = head + (
                "您家庭的子女须同校录取，轮到您家庭时没有一所共同志愿学校剩余足够学位，"
                "因此未获学位。各志愿情况：" + "；".join(misses) + "。"
            )
            continue
        if r == "tie_rejected" or "tie_rejected" in codes:
            reasons[a] = "tie_rejected"
        elif "lost_lottery" in codes:
            reasons[a] = "lost_lottery"
        else:
            reasons[a] = "below_cutoff"
        texts[a] = head + "您未获学位：" + "；".join(misses) + "。"
    return reasons, texts
