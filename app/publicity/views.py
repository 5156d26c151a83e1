"""`/publicity/<round>` (the zones and the files to re-run) and `/publicity/<round>/<zone>` (a
zone's ranked lists): public, read-only, nothing personal beyond the masked name."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request

from app.accounts.web import keys
from app.applications.operations import NotFound
from app.db import request_session
from app.publicity import operations as ops
from app.rounds.operations import round_config

bp = Blueprint("publicity", __name__, url_prefix="/publicity")


def _published(round_id: str):
    db = request_session()
    try:
        round_, run = ops.published_run(db, round_id)
    except NotFound:
        abort(404)
    return db, round_, run, round_config(db, round_)


@bp.get("/<round_id>")
def round_page(round_id: str):
    db, round_, run, config = _published(round_id)
    return render_template(
        "publicity.html", round=round_, run=run, config=config,
        counts=ops.zone_counts(db, run), ends=ops.publicity_ends(round_, config),
        changes=ops.changes_from_previous(db, run, config),
    )  # fmt: skip


@bp.get("/<round_id>/<zone>")
def zone_page(round_id: str, zone: str):
    db, round_, run, config = _published(round_id)
    zones = {z["id"]: z for z in config["zones"]}
    categories = {c["id"]: c for c in config["categories"]}
    if zone not in zones:
        abort(404)
    category = request.args.get("category", "") or config["categories"][0]["id"]
    if category not in categories:
        abort(404)
    listing = ops.zone_list(
        db, keys(), run, config, zone, category, page=request.args.get("page", 1, type=int) or 1
    )
    return render_template(
        "publicity_zone.html", round=round_, run=run, config=config, zone=zones[zone],
        category=categories[category], listing=listing, ends=ops.publicity_ends(round_, config),
    )  # fmt: skip


@bp.get("/<round_id>/files/<name>")
def download(round_id: str, name: str):
    """The anonymised instance and the result, byte for byte (anyone can re-run the round),
    and each zone's lists as XLSX (`<zone>.xlsx`)."""
    db, _, run, config = _published(round_id)
    zone = name.removesuffix(".xlsx")
    if name.endswith(".xlsx") and zone in {z["id"] for z in config["zones"]}:
        return Response(
            ops.zone_workbook(db, keys(), run, config, zone),
            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": f'attachment; filename="{round_id}-{zone}.xlsx"'},
        )  # fmt: skip
    data = {"instance.json": run.instance, "result.json": run.result}.get(name)
    if data is None:
        abort(404)
    return Response(
        data, mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="{round_id}-{name}"'},
    )  # fmt: skip
