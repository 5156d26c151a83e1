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

    def __init__(self, inst: Instance, out: Outcome, pts: list[int]):
        self.pts = pts
        self.keys = inst.keys  # ties on points are rare: rows are read when needed
        self.pos = out.pos
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
            ka, kb = tuple(self.keys[a].tolist()), tuple(self.keys[last].tolist())
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


def explain_all(
    inst: Instance, out: Outcome, last_s: dict, last_z: dict, lo: int = 0, hi: int | None = None
) -> tuple[list, list]:
    """Final reason code and Chinese explanation for applicants lo..hi-1 (default all, id order).

    Everything that depends only on the (category, zone) or the school is made once; the
    common "cut-off X, you are Y short" phrase is cached per (school or zone, points).
    """
    n = inst.n
    hi = n if hi is None else hi
    nz = len(inst.zones)
    ncz = len(inst.categories) * nz

    def part(values) -> list:  # indexed like all applicants, filled for lo..hi-1 only
        return [None] * lo + (
            values[lo:hi].tolist() if hasattr(values, "tolist") else values[lo:hi]
        )

    reasons = part(out.reason)
    texts = [""] * hi
    cats = inst.categories
    zname = [z.get("name") or z["id"] for z in inst.zones]
    sname = [f"{s['id']}（{s['name']}）" if s.get("name") else s["id"] for s in inst.schools]
    count_s = np.bincount(out.school[out.school >= 0], minlength=len(inst.schools)).tolist()
    seats = inst.school_seats.tolist()
    zc = inst.cat.astype(np.int64) * nz + inst.zone
    zc_counts = np.bincount(zc[out.admitted], minlength=ncz).tolist()
    pts = inst.points.tolist()
    whynot = _Why(inst, out, pts)
    fm = whynot.f
    fmc = whynot.fmt_cache
    anyl = part(inst.accept_any)
    zr = part(out.zone_rank)
    cr = part(out.choice_rank)
    sch = part(out.school)
    czl = part(zc)
    choices = inst.choices
    # per (category, zone), index c * nz + z
    clabel_l, q_l, house_l, lastz_l, zlabel_l = [], [], [], [], []
    inel_l, wd_l, adm_l, tie_l, tierej_l = [], [], [], [], []
    for k in range(ncz):
        c, z = divmod(k, nz)
        kind = cats[c]["kind"]
        clabel = f"{zname[z]}{CAT_LABELS.get(kind, '')}（{cats[c]['id']}）"
        q = out.zone_quota[(c, z)]
        clabel_l.append(clabel)
        q_l.append(q)
        house_l.append(kind == "household")
        lastz_l.append(last_z.get((c, z)))
        zlabel_l.append(f"本区指标 {q} 个，")
        inel_l.append(
            f"您不符合本次{clabel}的申请资格，未参加排名。如有疑问，请到所在镇街窗口咨询。"
        )
        wd_l.append(f"您已放弃本次{clabel}，不再参加分配。")
        adm_l.append(f"本区指标 {q} 个，您已获得入户指标。")
        tie_l.append(f"本区指标 {q} 个，您与最后一名同分同条件，按同分同落规则一并获得指标。")
        left = q - zc_counts[k]
        tierej_l.append(
            f"本区指标 {q} 个，轮到您的分数段时剩余 {left} 个，与您积分和排序条件完全相同的"
            "申请人多于剩余指标，按同分同不落规则均不录取，未获入户指标。"
        )
    # per school: the last admitted applicant's points, whether seats are left
    S = len(inst.schools)
    lasts = [last_s.get(t) for t in range(S)]
    cps = [pts[x] if x is not None else None for x in lasts]
    free = [count_s[t] < seats[t] for t in range(S)]
    none_why = [whynot(0, None, sname[t], free[t]) if lasts[t] is None else None for t in range(S)]
    short: list[dict] = [{} for _ in range(S)]  # per school: points -> ("below_cutoff", phrase)
    hshort: dict = {}  # (category-zone, points) -> household "short" sentence tail
    plain: dict[tuple[int, int], str] = {}

    def why_s(a: int, p: int, t: int):
        cp = cps[t]
        if cp is None:
            return none_why[t]
        if p < cp:
            r = short[t].get(p)
            if r is None:
                r = short[t][p] = whynot(a, lasts[t], sname[t], free[t])
            return r
        return whynot(a, lasts[t], sname[t], free[t])

    for a in range(lo, hi):
        r = reasons[a]
        k = czl[a]
        if r == "ineligible":
            texts[a] = inel_l[k]
            continue
        if r == "withdrawn":
            texts[a] = wd_l[k]
            continue
        p = pts[a]
        head = f"您的积分 {fmc.get(p) or fm(p)} 分，在{clabel_l[k]}排名第 {zr[a]} 位。"
        if house_l[k]:
            if r == "admitted":
                texts[a] = head + adm_l[k]
            elif r == "admitted_tie":
                texts[a] = head + tie_l[k]
            elif r == "admitted_kept":
                texts[a] = head + "您在上一轮已获得入户指标，本轮保留。"
            elif r == "tie_rejected":
                texts[a] = head + tierej_l[k]
            else:
                lz = lastz_l[k]
                if lz is not None and p < pts[lz]:
                    key = (k, p)
                    tail = hshort.get(key)
                    if tail is None:
                        _, why = whynot(a, lz, zlabel_l[k], False)
                        tail = hshort[key] = why + "，未获入户指标。"
                    reasons[a] = "below_cutoff"
                    texts[a] = head + tail
                    continue
                code, why = whynot(a, lz, zlabel_l[k], False)
                if code == "family":
                    code = "below_cutoff"
                reasons[a] = code
                texts[a] = head + why + "，未获入户指标。"
            continue
        s = sch[a]
        if r.startswith("admitted"):
            ca = cr[a]
            if r == "admitted_choice" and ca == 1:
                body = plain.get((1, s))
                if body is None:
                    body = plain[(1, s)] = f"您已被第 1 志愿 {sname[s]}录取。"
                texts[a] = head + body
                continue
            misses = []
            if r != "admitted_kept":
                lim = ca - 1 if ca > 0 else len(choices[a])
                for t in choices[a][:lim]:
                    misses.append(why_s(a, p, t)[1])
            if r == "admitted_kept":
                body = f"您在上一轮已被 {sname[s]}录取，本轮保留。"
            elif r == "admitted_any":
                body = f"您服从区内调剂，已被 {sname[s]}录取。"
            elif r == "admitted_family":
                rank = f"第 {ca} 志愿 " if ca else "调剂学校 "
                body = f"您与同一家庭的子女一起被{rank}{sname[s]}录取。"
            elif r == "admitted_tie":
                body = f"您与最后录取者同分同条件，按同分同落规则被第 {ca} 志愿 {sname[s]}录取。"
                if not ca:
                    body = f"您与最后录取者同分同条件，按同分同落规则被调剂学校 {sname[s]}录取。"
            else:
                body = plain.get((ca, s))
                if body is None:
                    body = plain[(ca, s)] = f"您已被第 {ca} 志愿 {sname[s]}录取。"
            if misses:
                texts[a] = head + body + "前面的志愿未录取的原因：" + "；".join(misses) + "。"
            else:
                texts[a] = head + body
            continue
        # school, not admitted
        lst = choices[a]
        if not lst and not anyl[a]:
            reasons[a] = "no_choices"
            texts[a] = head + "您没有填报志愿学校，也没有选择服从区内调剂，未获学位。"
            continue
        misses = []
        codes = []
        for t in lst:
            code, why = why_s(a, p, t)
            misses.append(why)
            codes.append(code)
        if anyl[a]:
            misses.append("您选择了服从调剂，但区内其他学校在轮到您时已无空位")
        quota_hit = r == "quota_exhausted" and (not codes or bool(anyl[a]))
        if "quota_exhausted" in codes or quota_hit:
            reasons[a] = "quota_exhausted"
            lz = lastz_l[k]
            cut = f"，最后录取积分 {fmt(pts[lz])} 分" if lz is not None else ""
            texts[a] = head + f"本区学位指标 {q_l[k]} 个已全部录取完毕{cut}，您未获学位。"
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
    if lo == 0 and hi == n:
        return reasons, texts
    return reasons[lo:hi], texts[lo:hi]
