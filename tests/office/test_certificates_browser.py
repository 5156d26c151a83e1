"""The public verification page in Debian chromium at phone size, for each verdict: what a
school's or a police officer's phone shows after scanning a certificate. Screenshots go to
test-artifacts/verify-<verdict>.png."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from office_helpers import good_rows, round_config, write_csv
from test_office_browser import ARGS, ARTIFACTS, CHROMIUM, serve

from app.accounts.actor import Actor
from app.applications.importer import import_applications
from app.certificates.operations import Signer, prepare_batch, reprint, revoke
from app.certificates.signing import Ed25519PrivateKey, b64, unb64
from app.db import make_engine, transaction
from app.localtime import beijing_today
from app.protect import DataKeys
from app.publicity.operations import finalize, publish
from app.rounds.allocation import allocate_round

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

EXPECTED = {
    "valid": ("有效", "目前有效"),
    "invalid": ("无效，可能伪造", "请勿凭它办理"),
    "revoked": ("已撤销", "不能再凭它办理"),
    "superseded": ("已被新证书替代", "请以新通知书为准"),
}


def test_the_verify_page_gives_each_verdict_on_a_phone(tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is missing: run `make system-packages`")
    from playwright.sync_api import sync_playwright

    config = round_config()
    config.update(application_window=["2026-01-05", "2026-02-05"], publicity_days=0,
                  objection_days=0, certificate={"issuer": "中山市教育和体育局",
                                                 "deadline": "2026-08-31"})  # fmt: skip
    server, thread = serve(tmp_path, config, dt.date(2026, 1, 1))
    engine = make_engine(f"sqlite:///{tmp_path / 'office.sqlite'}")
    keys = DataKeys.from_secret("browser test data key " * 2)
    city, today = Actor.command_line(), beijing_today()
    rows = good_rows(6)
    for row in rows:
        row[9] = str(int(row[9]) + 20)  # eligible, and admitted
    with transaction(engine) as session:
        import_applications(session, city, "zs-2026-p1", write_csv(tmp_path / "in.csv", rows),
                            keys, today=dt.date(2026, 1, 10), verified=True)  # fmt: skip
    for act in (allocate_round, publish, finalize):
        with transaction(engine) as session:
            act(session, city, "zs-2026-p1", today=today)
    signer = Signer(Ed25519PrivateKey.generate())
    with transaction(engine) as session:
        pages = prepare_batch(session, city, keys, signer, "zs-2026-p1", zone=None, today=today,
                              public_url="https://x").pages  # fmt: skip
    codes = [page.verify_url.rsplit("/", 1)[1] for page in pages]
    with transaction(engine) as session:
        revoke(session, city, pages[1].number, "录取资格经复查不符")
        reprint(session, city, keys, signer, pages[2].number, "通知书遗失", today=today,
                public_url="https://x")  # fmt: skip
    raw = bytearray(unb64(codes[0]))
    raw[len(raw) // 2] ^= 0x01
    scanned = {"valid": codes[0], "invalid": b64(bytes(raw)), "revoked": codes[1],
               "superseded": codes[2]}  # fmt: skip
    ARTIFACTS.mkdir(exist_ok=True)
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            page = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN",
                                    device_scale_factor=2)  # fmt: skip
            for verdict, code in scanned.items():
                page.goto(f"{base}/verify/{code}")
                label, sentence = EXPECTED[verdict]
                assert page.locator(".verdict-label").inner_text() == label
                assert sentence in page.locator("#verdict").inner_text()
                wide = page.evaluate("document.documentElement.scrollWidth")
                assert wide <= 390, f"{verdict}: the page is {wide}px wide on a 390px phone"
                shown = page.locator("#claims").count()
                assert shown == (0 if verdict == "invalid" else 1)
                if shown:
                    text = page.locator("#claims").inner_text()
                    assert "申**" in text and "申请人" not in text  # the name masked, never in full
                    assert page.locator("#check-id").is_visible()
                page.screenshot(path=str(ARTIFACTS / f"verify-{verdict}.png"), full_page=True)
            browser.close()
    finally:
        server.shutdown()
        thread.join(5)
        engine.dispose()
