"""Synthetic allocation instances for tests, benchmarks and the demo (`jifen instance generate`).

Realistic shape: zones of different size (Zhongshan's 镇街 names), one household category and
two school categories (primary and junior grade 1), popular and unpopular schools (log-normal
popularity), integer points with many ties (a few half points), two tie-break keys, about 3%
ineligible, about 40% accepting any school of their zone, and about 5% of school applicants in
families (twins/siblings in the same grade share points, keys and choices: points belong to
the parents in 积分入学). Everything is drawn from `numpy.random.default_rng(seed)`.
"""

from __future__ import annotations

import numpy as np

ZONE_NAMES = [
    ("shiqi", "石岐街道"), ("dongqu", "东区街道"), ("xiqu", "西区街道"), ("nanqu", "南区街道"),
    ("wuguishan", "五桂山街道"), ("huoju", "火炬开发区"), ("huangpu", "黄圃镇"),
    ("nantou", "南头镇"), ("dongfeng", "东凤镇"), ("fusha", "阜沙镇"), ("xiaolan", "小榄镇"),
    ("dongsheng", "东升镇"), ("guzhen", "古镇镇"), ("henglan", "横栏镇"), ("sanjiao", "三角镇"),
    ("minzhong", "民众街道"), ("nanlang", "南朗街道"), ("gangkou", "港口镇"),
    ("dachong", "大涌镇"), ("shaxi", "沙溪镇"), ("sanxiang", "三乡镇"), ("banfu", "板芙镇"),
    ("shenwan", "神湾镇"), ("tanzhou", "坦洲镇"),
]  # fmt: skip

CATEGORIES = [("hukou", "household", 0.30), ("school-j1", "school", 0.28),
              ("school-p1", "school", 0.42)]  # fmt: skip
CATEGORY_NAMES = {"hukou": "积分入户", "school-j1": "初中一年级", "school-p1": "小学一年级"}


def generate(
    applicants: int,
    zones: int = 24,
    schools: int = 1000,
    seed: int = 0,
    choices: int = 5,
    family_rate: float = 0.05,
    tie_policy: str = "lottery",
    method: str = "hamilton",
    basis: str = "demand",
) -> dict:
    rng = np.random.default_rng(seed)
    Z = max(1, zones)
    zone_recs = []
    for i in range(Z):
        zid, name = ZONE_NAMES[i % len(ZONE_NAMES)]
        if i >= len(ZONE_NAMES):
            zid, name = f"{zid}{i // len(ZONE_NAMES) + 1}", f"{name}{i // len(ZONE_NAMES) + 1}区"
        zone_recs.append({"id": zid, "name": name, "weight": 0.0, "bounds": {}})
    zw = rng.lognormal(0.0, 0.6, Z)
    zw /= zw.sum()
    for i, z in enumerate(zone_recs):
        z["weight"] = round(float(zw[i]) * 100, 2)

    # applicants: base records, then siblings copied from some school applicants
    n_fam_extra = round(applicants * family_rate / 2)
    n_base = max(0, applicants - n_fam_extra)
    cshare = np.array([c[2] for c in CATEGORIES])
    cat = rng.choice(len(CATEGORIES), size=n_base, p=cshare / cshare.sum())
    zone = rng.choice(Z, size=n_base, p=zw)
    pts = np.clip(np.rint(rng.normal(110, 30, n_base)), 0, 250).astype(np.int64) * 100
    half = rng.random(n_base) < 0.05
    pts[half] += 50
    k1 = rng.integers(0, 121, n_base)
    k2 = rng.integers(0, 121, n_base)
    elig = rng.random(n_base) >= 0.03
    anyz = rng.random(n_base) < 0.4

    # schools: split among school categories and zones in proportion to demand
    school_cats = [ci for ci, c in enumerate(CATEGORIES) if c[1] == "school"]
    cells = [(ci, zi) for ci in school_cats for zi in range(Z)]
    dem = np.array([np.count_nonzero((cat == ci) & (zone == zi)) for ci, zi in cells], float)
    S = max(schools, len(cells))
    per = np.maximum(1, np.floor(dem / max(dem.sum(), 1) * S)).astype(int)
    while per.sum() > S:
        per[np.argmax(per)] -= 1
    while per.sum() < S:
        per[np.argmax(dem / per)] += 1
    school_recs = []
    cell_schools: dict[tuple[int, int], list[int]] = {}
    cell_pop: dict[tuple[int, int], np.ndarray] = {}
    sno = 0
    width = max(4, len(str(S)))
    for (ci, zi), k, d in zip(cells, per, dem, strict=True):
        pop = rng.lognormal(0.0, 1.0, k)
        w = rng.uniform(0.5, 1.5, k)
        seats = np.maximum(1, np.floor(0.85 * d * w / w.sum())).astype(int)
        ids = []
        for j in range(k):
            sid = f"S{sno:0{width}d}"
            sno += 1
            school_recs.append(
                {
                    "id": sid,
                    "zone": zone_recs[zi]["id"],
                    "category": CATEGORIES[ci][0],
                    "seats": int(seats[j]),
                    "name": f"{zone_recs[zi]['name']}第{j + 1}{'小学' if ci == 2 else '中学'}",
                }
            )
            ids.append(sid)
        cell_schools[(ci, zi)] = ids
        cell_pop[(ci, zi)] = np.log(pop / pop.sum())

    # choices by Gumbel top-k on popularity, per (category, zone) cell
    ch_lists: list[list[str]] = [[] for _ in range(n_base)]
    nch = np.where(rng.random(n_base) < 0.6, choices, rng.integers(1, choices + 1, n_base))
    for ci, zi in cells:
        members = np.nonzero((cat == ci) & (zone == zi))[0]
        if len(members) == 0:
            continue
        ids = cell_schools[(ci, zi)]
        g = cell_pop[(ci, zi)][None, :] + rng.gumbel(size=(len(members), len(ids)))
        top = np.argsort(-g, axis=1)[:, : min(choices, len(ids))].tolist()
        for m, row in zip(members.tolist(), top, strict=True):
            ch_lists[m] = [ids[t] for t in row[: nch[m]]]

    width_a = max(6, len(str(applicants)))
    recs = []
    catid = [c[0] for c in CATEGORIES]
    zid = [z["id"] for z in zone_recs]
    ptsl, k1l, k2l = pts.tolist(), k1.tolist(), k2.tolist()
    for i in range(n_base):
        c = int(cat[i])
        p = ptsl[i]
        r = {
            "id": f"A{i:0{width_a}d}",
            "zone": zid[zone[i]],
            "category": catid[c],
            "points": p // 100 if p % 100 == 0 else p / 100,
            "keys": {"insured_months_city": k1l[i], "residence_permit_months": k2l[i]},
            "eligible": bool(elig[i]),
        }
        if CATEGORIES[c][1] == "school":
            r["choices"] = ch_lists[i]
            r["accept_any_in_zone"] = bool(anyz[i])
        recs.append(r)
    school_idx = [i for i in range(n_base) if CATEGORIES[int(cat[i])][1] == "school"]
    fam_src = rng.choice(school_idx, size=min(n_fam_extra, len(school_idx)), replace=False)
    nxt = n_base
    for f, i in enumerate(sorted(fam_src.tolist())):
        fid = f"F{f:0{width_a}d}"
        recs[i]["family"] = fid
        sib = dict(recs[i])
        sib["id"] = f"A{nxt:0{width_a}d}"
        sib["keys"] = dict(recs[i]["keys"])
        sib["choices"] = list(recs[i]["choices"])
        nxt += 1
        recs.append(sib)

    seats_by_cat: dict[str, int] = {}
    for s in school_recs:
        seats_by_cat[s["category"]] = seats_by_cat.get(s["category"], 0) + s["seats"]
    n_hukou = sum(1 for r in recs if r["category"] == "hukou" and r["eligible"])
    cats = []
    for cid, kind, _ in CATEGORIES:
        total = n_hukou // 2 if kind == "household" else int(seats_by_cat.get(cid, 0) * 0.95)
        cats.append({"id": cid, "kind": kind, "total": total, "name": CATEGORY_NAMES[cid]})
    return {
        "format": "jifen.allocation/1",
        "year": 2026,
        "seed": f"jifen-demo-{seed}",
        "tie_break": ["insured_months_city", "residence_permit_months"],
        "tie_policy": tie_policy,
        "apportion": {"method": method, "basis": basis},
        "categories": cats,
        "zones": zone_recs,
        "schools": school_recs,
        "applicants": recs,
    }
