"""Certificates computed on every run: capacity, quotas, blocking pairs, wasted seats.

Priority comparisons use the zone ranking: under `lottery` the full order (points, keys,
lottery); under `admit_all` and `reject_all` only points and keys (the tie group), because
there applicants tied on points and keys are treated alike.

* blocking pair (a, s): applicant a wanted school s more than what a got, and s admitted an
  applicant ranked below a (or s has a free seat but the zone quota went to someone ranked
  below a). For household categories s is null: someone ranked below a was admitted in a's
  zone. Pairs caused by a family placed together (a belongs to it, or the applicant below a
  does) are listed with `cause: "family"`; in a vacancy round, kept admissions are not
  reconsidered and pairs against them have `cause: "vacancy"`. Any other pair is a defect.
* wasted seat: a free seat at school s, inside the zone quota, that an applicant wanted more
  than what they got (families: only if the seats would hold the whole family), unless the
  `reject_all` tie policy closed s (or the zone) at or above that applicant's tie group.
"""

from __future__ import annotations

import numpy as np

from .instance import Instance
from .outcome import Outcome
from .reasons import Reason


def certify(inst: Instance, out: Outcome) -> dict:
    n = inst.n
    nz = len(inst.zones)
    S = len(inst.schools)
    cmp = out.level if inst.tie_policy != "lottery" else out.pos
    adm = out.admitted
    zc = inst.cat.astype(np.int64) * nz + inst.zone
    NZC = len(inst.categories) * nz
    ranked = out.pos >= 0
    envious = ranked & ~adm
    if out.kept:
        kept = np.zeros(n, dtype=bool)
        kept[list(out.kept)] = True
    else:
        kept = np.zeros(n, dtype=bool)
    envious_any = ranked & ~kept
    # --- counts
    placed = out.school >= 0
    count = np.bincount(out.school[placed], minlength=S)
    beyond = Reason.ADMITTED_TIE
    tie_adm = np.array([r == beyond for r in out.placement], dtype=bool) if n else adm
    tie_count = np.bincount(out.school[placed & tie_adm], minlength=S)
    seats = inst.school_seats
    capacity_ok = bool((count <= seats + tie_count).all())
    quota = np.array(
        [out.zone_quota[(c, z)] for c in range(len(inst.categories)) for z in range(nz)]
    )
    zadm = np.bincount(zc[adm], minlength=NZC)
    ztie = np.bincount(zc[adm & tie_adm], minlength=NZC)
    quota_ok = bool((zadm <= quota + ztie).all())
    quota_sum_ok = True
    for c, cat in enumerate(inst.categories):
        qs = quota[c * nz : (c + 1) * nz]
        if int(qs.sum()) != cat["total"]:
            quota_sum_ok = False
        for z, zone in enumerate(inst.zones):
            b = zone.get("bounds", {}).get(cat["id"])
            if b and not (b[0] <= qs[z] <= b[1]):
                quota_sum_ok = False
            if cat["kind"] == "school":
                zs = out.zone_schools.get((c, z), [])
                if qs[z] > int(seats[zs].sum()) if zs else qs[z] > 0:
                    quota_sum_ok = False
    # --- worst admitted per school and per zone
    big = np.iinfo(np.int64).max
    worst_s = np.full(S, -1, dtype=np.int64)
    worst_s_app = np.full(S, -1, dtype=np.int64)
    pa = np.nonzero(placed & ranked)[0]
    if len(pa):
        o = pa[np.lexsort((cmp[pa], out.school[pa]))]
        last = np.ones(len(o), dtype=bool)
        last[:-1] = out.school[o[1:]] != out.school[o[:-1]]
        worst_s[out.school[o[last]]] = cmp[o[last]]
        worst_s_app[out.school[o[last]]] = o[last]
    worst_z = np.full(NZC, -1, dtype=np.int64)
    worst_z_app = np.full(NZC, -1, dtype=np.int64)
    za = np.nonzero(adm & ranked)[0]
    if len(za):
        o = za[np.lexsort((cmp[za], zc[za]))]
        last = np.ones(len(o), dtype=bool)
        last[:-1] = zc[o[1:]] != zc[o[:-1]]
        worst_z[zc[o[last]]] = cmp[o[last]]
        worst_z_app[zc[o[last]]] = o[last]
    zleft = quota - zadm
    free = seats - count
    s_zc = inst.school_cat.astype(np.int64) * nz + inst.school_zone
    # threshold: an applicant with cmp < thr[s] may claim s; open[s]: free seat inside the quota
    open_s = (free > 0) & (zleft[s_zc] > 0) if S else np.zeros(0, dtype=bool)
    thr = np.where(free > 0, worst_z[s_zc], worst_s) if S else np.zeros(0, dtype=np.int64)
    thr_app = np.where(free > 0, worst_z_app[s_zc], worst_s_app) if S else thr
    close_s = np.full(S, big, dtype=np.int64)
    for s, g in out.closed_school.items():
        close_s[s] = g
    close_z = np.full(NZC, big, dtype=np.int64)
    for (c, z), g in out.closed_zone.items():
        close_z[c * nz + z] = g
    lev = out.level
    fam_size = {}
    fam_waste: list[tuple[int, int]] = []  # (leader, school) seats a family could have used
    for (c, _), members in out.families.items():
        zs = out.zone_schools.get((c, int(inst.zone[members[0]])), [])
        k = len(members)
        for m in members:
            fam_size[m] = k
        if any(m in out.kept for m in members):
            continue
        lead = members[0]  # best ranked: the family's order is the leader's
        if out.choice_rank[lead] == 1:  # first choice of the leader: nothing better to waste
            continue
        sets = [set(inst.choices[m]) | (set(zs) if inst.accept_any[m] else set()) for m in members]
        ext = list(inst.choices[lead]) + (
            [x for x in zs if x not in inst.choices[lead]] if inst.accept_any[lead] else []
        )
        joint = [x for x in ext if all(x in st for st in sets)]
        got = int(out.school[lead])
        for x in joint:
            if x == got:
                break
            if (
                free[x] >= k
                and zleft[s_zc[x]] >= k
                and lev[lead] < close_s[x]
                and lev[lead] < close_z[zc[lead]]
            ):
                fam_waste.append((lead, x))
    is_fam = np.zeros(n, dtype=bool)
    if fam_size:
        is_fam[list(fam_size)] = True
    pairs_a: list[np.ndarray] = []
    pairs_s: list[np.ndarray] = []
    waste_s: list[np.ndarray] = []
    waste_a: list[np.ndarray] = []

    def examine(a: np.ndarray, s: np.ndarray) -> None:
        if not len(a):
            return
        allowed = (lev[a] < close_s[s]) & (lev[a] < close_z[zc[a]])  # reject_all closures
        block = (cmp[a] < thr[s]) & ~open_s[s] & allowed
        pairs_a.append(a[block])
        pairs_s.append(s[block])
        w = open_s[s] & allowed
        if fam_size:  # families are checked as units below
            w &= ~is_fam[a]
        waste_a.append(a[w])
        waste_s.append(s[w])

    # listed choices ahead of the outcome
    counts, flat = inst.choice_counts, inst.choice_flat
    row = np.repeat(np.arange(n), counts)
    if counts.sum():
        posn = np.arange(len(flat)) - np.repeat(np.cumsum(counts) - counts, counts)
        limit = np.where(out.choice_rank > 0, out.choice_rank - 1, counts)
        m = envious_any[row] & (posn < limit[row])
        examine(row[m], flat[m])
    # accept_any: zone schools not listed, in id order, ahead of the outcome
    anyrows = np.nonzero(envious_any & inst.accept_any & (out.choice_rank == 0))[0]
    if len(anyrows):
        mats_a, mats_s = [], []
        key_any = zc[anyrows]
        for key in np.unique(key_any).tolist():
            c, z = divmod(key, nz)
            zs = np.array(out.zone_schools.get((c, z), []), dtype=np.int64)
            if not len(zs):
                continue
            ra = anyrows[key_any == key]
            mats_a.append(np.repeat(ra, len(zs)))
            mats_s.append(np.tile(zs, len(ra)))
        if mats_a:
            mat_a = np.concatenate(mats_a)
            mat_s = np.concatenate(mats_s)
            got = out.school[mat_a]
            ok = (got < 0) | (mat_s < got)
            if counts.sum():
                sel = np.zeros(n, dtype=bool)
                sel[anyrows] = True
                lm = sel[row]
                ref = np.sort(row[lm] * (S + 1) + flat[lm])
                q = mat_a * (S + 1) + mat_s
                if len(ref):
                    hit = np.searchsorted(ref, q)
                    ok &= ref[np.minimum(hit, len(ref) - 1)] != q
            examine(mat_a[ok], mat_s[ok])
    # household categories
    hh = np.array([c["kind"] == "household" for c in inst.categories], dtype=bool)
    hmask = envious & hh[inst.cat] if n else envious
    if hmask.any():
        a = np.nonzero(hmask)[0]
        block = cmp[a] < worst_z[zc[a]]
        pairs_a.append(a[block])
        pairs_s.append(np.full(int(block.sum()), -1, dtype=np.int64))
        w = (zleft[zc[a]] > 0) & (lev[a] < close_z[zc[a]])
        waste_a.append(a[w])
        waste_s.append(np.full(int(w.sum()), -1, dtype=np.int64))

    pa_all = np.concatenate(pairs_a) if pairs_a else np.zeros(0, dtype=np.int64)
    ps_all = np.concatenate(pairs_s) if pairs_s else np.zeros(0, dtype=np.int64)
    pair_list = []
    unexplained = 0
    for a, s in sorted(zip(pa_all.tolist(), ps_all.tolist(), strict=True)):
        below = int(thr_app[s]) if s >= 0 else int(worst_z_app[zc[a]])
        cause = None
        fam = None
        if inst.family[a] is not None and a in fam_size:
            cause, fam = "family", inst.family[a]
        elif below >= 0 and inst.family[below] is not None and below in fam_size:
            cause, fam = "family", inst.family[below]
        elif below >= 0 and below in out.kept:
            cause = "vacancy"
        if cause is None:
            unexplained += 1
        pair_list.append(
            {
                "applicant": inst.ids[a],
                "school": inst.schools[s]["id"] if s >= 0 else None,
                "category": inst.categories[int(inst.cat[a])]["id"],
                "zone": inst.zones[int(inst.zone[a])]["id"],
                "ranked_below": inst.ids[below] if below >= 0 else None,
                "cause": cause,
                "family": fam,
            }
        )
    if fam_waste:
        waste_a.append(np.array([f[0] for f in fam_waste], dtype=np.int64))
        waste_s.append(np.array([f[1] for f in fam_waste], dtype=np.int64))
    wa = np.concatenate(waste_a) if waste_a else np.zeros(0, dtype=np.int64)
    ws = np.concatenate(waste_s) if waste_s else np.zeros(0, dtype=np.int64)
    wasted = 0
    for s in sorted(set(ws[ws >= 0].tolist())):
        wasted += int(min(free[s], zleft[s_zc[s]]))
    for key in sorted(set(zc[wa[ws < 0]].tolist())):
        wasted += int(zleft[key])
    tie_overflow = int(tie_adm.sum()) if n else 0
    left_by_policy = 0
    for s in out.closed_school:
        left_by_policy += int(max(free[s], 0))
    ok = capacity_ok and quota_ok and quota_sum_ok and unexplained == 0 and wasted == 0
    return {
        "capacity_ok": capacity_ok,
        "quota_ok": quota_ok,
        "quota_sum_ok": quota_sum_ok,
        "blocking_pairs": len(pair_list),
        "blocking_pairs_unexplained": unexplained,
        "blocking_pair_list": pair_list,
        "wasted_seats": wasted,
        "tie_overflow": tie_overflow,
        "seats_closed_by_tie_policy": left_by_policy,
        "ok": ok,
    }
