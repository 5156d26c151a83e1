"""Approval certificates on SQLite and PostgreSQL: printed as one PDF (PDF/A-3u, embedded CJK
fonts, one page an admitted applicant), a signed QR read back from the rasterised page and
verified, revocation, reprints, key rotation, and the names the font cannot print."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
from pathlib import Path

import pytest
from office_helpers import KEYS_SECRET, good_rows, round_config, write_csv
from sqlmodel import select

from app import db as app_db
from app.accounts.actor import Actor
from app.applications.importer import import_applications
from app.cli import main
from app.db import transaction
from app.localtime import beijing_today
from app.publicity.operations import finalize, publish
from app.rounds.allocation import allocate_round
from app.rounds.operations import create_round
from scoring.programmes import chinese_date

CITY = Actor.command_line()
ROWS = good_rows(6)  # 000001, 3, 5 in shiqi; 000002, 4, 6 in dongqu
for _row in ROWS:  # above the programme's 30-point line: every one eligible, and admitted
    _row[9] = str(int(_row[9]) + 20)
SETTINGS = {
    "issuer": "中山市流动人员积分制服务管理办公室",
    "deadline": "2026-08-31",
    "notes": ["报到时请携带本通知书原件。"],
}


def final_round(engine, keys, tmp_path, rows=ROWS) -> None:
    config = round_config()
    config.update(
        application_window=["2026-01-05", "2026-02-05"],
        publicity_days=0,
        objection_days=0,
        certificate=SETTINGS,
    )
    today = beijing_today()
    with transaction(engine) as session:
        create_round(session, CITY, config, today=dt.date(2026, 1, 1))
    with transaction(engine) as session:
        import_applications(
            session,
            CITY,
            "zs-2026-p1",
            write_csv(tmp_path / "in.csv", rows),
            keys,
            today=dt.date(2026, 1, 10),
            verified=True,
        )
    with transaction(engine) as session:
        allocate_round(session, CITY, "zs-2026-p1", today=today)
    with transaction(engine) as session:
        publish(session, CITY, "zs-2026-p1", today=today)
    with transaction(engine) as session:
        finalize(session, CITY, "zs-2026-p1", today=today)


@pytest.fixture
def final(engine, keys, tmp_path, monkeypatch):
    final_round(engine, keys, tmp_path)
    url = engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("JIFEN_DATA_KEY", KEYS_SECRET)
    monkeypatch.setenv("JIFEN_SIGNING_KEY", str(tmp_path / "signing.pem"))
    monkeypatch.setenv("JIFEN_PUBLIC_URL", "https://jifen.zs.gov.cn")
    from app.certificates.signing import write_new_key

    write_new_key(tmp_path / "signing.pem")
    yield engine
    made = app_db._ENGINES.pop(url, None)
    if made is not None:
        made.dispose()


# ---- helpers ------------------------------------------------------------------------------------

ADMITTED = 6
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def pdf_text(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def numbers_in(path: Path) -> list[str]:
    return re.findall(r"通知书编号：(ZS2026-P1-C\d{6}-[0-9A-Z])", pdf_text(path))


def qr_on_page(path: Path, page: int, tmp_path: Path) -> str:
    """The text of the QR code read back from the rasterised page (as a phone would)."""
    import zxingcpp
    from PIL import Image

    stem = tmp_path / f"page{page}"
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "200",  # about 3 pixels a module: at 100 dpi (1.4) some codes did not decode
            "-f",
            str(page),
            "-l",
            str(page),
            "-png",
            "-singlefile",
            str(path),
            str(stem),
        ],
        check=True,
    )
    found = zxingcpp.read_barcodes(Image.open(f"{stem}.png"))
    assert len(found) == 1 and found[0].format == zxingcpp.BarcodeFormat.QRCode
    return found[0].text


def printed(tmp_path: Path, name: str = "c.pdf", *extra: str) -> Path:
    out = tmp_path / name
    assert main(["certificates", "print", "zs-2026-p1", "-o", str(out), *extra]) == 0
    return out


# ---- printing -----------------------------------------------------------------------------------


def test_a_final_round_prints_one_pdf_a_page_an_admitted_applicant(final, tmp_path, capsys):
    from app.audit.models import AuditEntry
    from app.certificates.models import CertificateCopy

    out = printed(tmp_path)
    assert capsys.readouterr().out.startswith("已打印 6 份通知书（新签发 6 份）")
    info = subprocess.run(["pdfinfo", str(out)], capture_output=True, text=True).stdout
    assert re.search(r"^Pages:\s+6$", info, re.M)
    assert "595.276 x 841.89 pts (A4)" in info
    assert re.search(r"^Author:\s+中山市流动人员积分制服务管理办公室$", info, re.M)
    meta = subprocess.run(["pdfinfo", "-meta", str(out)], capture_output=True, text=True).stdout
    assert 'pdfaid:part="3"' in meta and 'pdfaid:conformance="U"' in meta
    fonts = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True).stdout
    rows = [line.split() for line in fonts.splitlines()[2:]]
    assert {r[0].split("+")[-1] for r in rows} == {
        "Noto-Serif-CJK-SC",
        "Noto-Sans-CJK-SC",
        "Noto-Sans-CJK-SC-Bold",
    }  # no DejaVu: nothing fell back to a font without Chinese
    assert all(r[-5:-2] == ["yes", "yes", "yes"] for r in rows)  # embedded, subset, unicode
    text = pdf_text(out)
    # ordered by zone (石岐 before 东区, as the round lists them), school, application number
    order = re.findall(r"受理编号：(ZS2026-P1-\d{6})", text)
    assert order == [
        "ZS2026-P1-000001",
        "ZS2026-P1-000003",
        "ZS2026-P1-000005",
        "ZS2026-P1-000002",
        "ZS2026-P1-000004",
        "ZS2026-P1-000006",
    ]
    numbers = numbers_in(out)
    assert numbers[0] == "ZS2026-P1-C000001-A"  # ISO 7064 MOD 37,36 of ZS2026P1C000001
    assert [n[11:17] for n in numbers] == [f"{k:06d}" for k in range(1, 7)]
    for k in range(6):
        assert f"申请人{k}（身份证号 " in text
    assert "2026 年 8 月 31 日前，由监护人持本通知书" in text
    assert (
        "如有疑问，请咨询石岐街道公共服务中心积分窗口，石岐街道公共服务中心一楼 3 号窗口"
        in " ".join(text.split())
    )
    ARTIFACTS.mkdir(exist_ok=True)
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "80",
            "-f",
            "1",
            "-l",
            "1",
            "-png",
            "-singlefile",
            str(out),
            str(ARTIFACTS / "certificate-school"),
        ],
        check=True,
    )

    first = numbers_in(out)
    again = printed(tmp_path, "again.pdf")  # the same batch: the same certificates
    assert numbers_in(again) == first
    engine = final
    with transaction(engine, write=False) as session:
        copies = session.exec(select(CertificateCopy)).all()
        actions = session.exec(
            select(AuditEntry.action)
            .where(AuditEntry.action.like("certificate.%"))
            .order_by(AuditEntry.seq)
        ).all()
    assert len(copies) == 12  # every copy printed stays listed
    assert actions == [
        "certificate.key",
        "certificate.issue",
        "certificate.print",
        "certificate.print",
    ]


# ---- verification -----------------------------------------------------------------------------


def _client(engine, keys, tmp_path):
    from office_helpers import office_app

    return office_app(engine, keys, tmp_path, RATELIMIT_ENABLED=False).test_client()


def _verdict(page: str) -> str:
    found = re.search(r'<p class="verdict-label">([^<]+)</p>', page)
    assert found, page
    return found.group(1)


def tampered(code: str) -> str:
    """The code with one byte of its payload changed."""
    from app.certificates.signing import b64, unb64

    raw = bytearray(unb64(code))
    raw[len(raw) // 2] ^= 0x01
    return b64(bytes(raw))


def test_the_qr_read_from_the_page_verifies_and_each_verdict_is_shown(
    final, keys, tmp_path, capsys
):
    from app.audit.models import AuditEntry

    engine = final
    out = printed(tmp_path)
    url = qr_on_page(out, 1, tmp_path)
    assert url.startswith("https://jifen.zs.gov.cn/verify/")
    code = url.rsplit("/", 1)[1]
    client = _client(engine, keys, tmp_path)

    response = client.get(f"/verify/{code}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert _verdict(page) == "有效"
    facts = dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]*)</dd>", page))
    assert facts == {
        "签发机关": "中山市流动人员积分制服务管理办公室",
        "通知书编号": "ZS2026-P1-C000001-A",
        "类型": "积分入学",
        "轮次": "中山市2026年积分入学（小学一年级）",
        "姓名": "申**0",
        "镇街": "石岐街道",
        "录取学校": "石岐中心小学",
        "核定积分": "32 分",
        "签发日期": beijing_today().isoformat(),
    }
    assert "请与持证人身份证核对" in page
    assert "申请人0" not in page and ROWS[0][1] not in page and ROWS[0][1][-4:] not in page

    assert _verdict(client.get(f"/verify/{tampered(code)}").get_data(as_text=True)) == (
        "无效，可能伪造"
    )
    assert _verdict(client.get("/verify/not-a-code").get_data(as_text=True)) == "无效，可能伪造"

    assert (
        main(["certificates", "revoke", "ZS2026-P1-C000001-A", "--reason", "录取资格经复查不符"])
        == 0
    )
    assert _verdict(client.get(f"/verify/{code}").get_data(as_text=True)) == "已撤销"

    second = qr_on_page(out, 2, tmp_path).rsplit("/", 1)[1]  # 000003's certificate
    assert (
        main(
            [
                "certificates",
                "reprint",
                "ZS2026-P1-C000002-8",
                "--reason",
                "通知书遗失",
                "-o",
                str(tmp_path / "re.pdf"),
            ]
        )
        == 0
    )
    assert "已补发 ZS2026-P1-C000007-" in capsys.readouterr().out
    page = client.get(f"/verify/{second}").get_data(as_text=True)
    assert _verdict(page) == "已被新证书替代"
    new = numbers_in(tmp_path / "re.pdf")
    assert len(new) == 1 and new[0].startswith("ZS2026-P1-C000007-")
    assert f"已补发新通知书（编号 {new[0]}）" in page
    fresh = qr_on_page(tmp_path / "re.pdf", 1, tmp_path).rsplit("/", 1)[1]
    assert _verdict(client.get(f"/verify/{fresh}").get_data(as_text=True)) == "有效"

    with transaction(engine, write=False) as session:
        entries = session.exec(
            select(AuditEntry.actor, AuditEntry.object_id, AuditEntry.diff)
            .where(AuditEntry.action == "certificate.verify")
            .order_by(AuditEntry.seq)
        ).all()
    assert [(a, o, json.loads(d)["verdict"]) for a, o, d in entries] == [
        ("public", "ZS2026-P1-C000001-A", "valid"),
        ("public", "", "invalid"),
        ("public", "", "invalid"),
        ("public", "ZS2026-P1-C000001-A", "revoked"),
        ("public", "ZS2026-P1-C000002-8", "superseded"),
        ("public", new[0], "valid"),
    ]


def test_a_code_is_checked_offline_with_only_the_published_keys(
    final, keys, tmp_path, monkeypatch, capsys
):
    engine = final
    out = printed(tmp_path)
    url = qr_on_page(out, 1, tmp_path)
    document = _client(engine, keys, tmp_path).get("/verify/keys").get_json()
    [key] = document["keys"]
    assert document["format"] == "jifen.keys/1" and key["crv"] == "Ed25519"
    assert key["retired_at"] is None and len(key["kid"]) == 11
    (tmp_path / "keys.json").write_text(json.dumps(document))
    capsys.readouterr()
    # no database within reach: the signature is checked, the revocation state cannot be
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:9/none")
    assert main(["certificates", "verify", url, "--keys", str(tmp_path / "keys.json")]) == 0
    said = capsys.readouterr().out
    assert said.startswith("核验结果：有效 / verdict: valid\n  通知书编号：ZS2026-P1-C000001-A\n")
    assert "  学校：石岐中心小学\n" in said and "未能查询是否已撤销" in said
    # another office's database (or a copy from before the print) does not know the number:
    # the signature stands, the state is unknown, never 无效
    from app.db import make_engine
    from app.migrate import upgrade

    other = f"sqlite:///{tmp_path / 'other.sqlite'}"
    upgrade(make_engine(other))
    monkeypatch.setenv("DATABASE_URL", other)
    assert main(["certificates", "verify", url, "--keys", str(tmp_path / "keys.json")]) == 0
    said = capsys.readouterr().out
    assert said.startswith("核验结果：有效") and "未能在签发机关的数据库中查到这份通知书" in said
    code = url.rsplit("/", 1)[1]
    assert (
        main(["certificates", "verify", tampered(code), "--keys", str(tmp_path / "keys.json")]) == 1
    )
    assert capsys.readouterr().out == "核验结果：无效，可能伪造 / verdict: invalid\n"


def test_a_new_signing_key_signs_what_follows_and_the_old_ones_still_verify(
    final, keys, tmp_path, monkeypatch, capsys
):
    engine = final
    out = printed(tmp_path)
    old = qr_on_page(out, 1, tmp_path)
    assert main(["certificates", "new-key", str(tmp_path / "next.pem")]) == 0
    assert main(["certificates", "new-key", str(tmp_path / "next.pem")]) == 2  # never overwritten
    monkeypatch.setenv("JIFEN_SIGNING_KEY", str(tmp_path / "next.pem"))
    assert (
        main(
            [
                "certificates",
                "reprint",
                "ZS2026-P1-C000003-6",
                "--reason",
                "通知书污损",
                "-o",
                str(tmp_path / "re.pdf"),
            ]
        )
        == 0
    )
    document = _client(engine, keys, tmp_path).get("/verify/keys").get_json()
    first, second = document["keys"]
    assert first["retired_at"] is not None and second["retired_at"] is None
    from app.certificates.signing import verify as check

    assert check(old.rsplit("/", 1)[1], __keys(document)).kid == first["kid"]
    fresh = qr_on_page(tmp_path / "re.pdf", 1, tmp_path).rsplit("/", 1)[1]
    assert check(fresh, __keys(document)).kid == second["kid"]
    capsys.readouterr()
    assert main(["certificates", "verify", old]) == 0  # the old key's certificate, still valid
    assert "核验结果：有效" in capsys.readouterr().out


def __keys(document):
    from app.certificates.signing import keys_from_document

    return keys_from_document(document)


# ---- what cannot be printed ---------------------------------------------------------------------


def test_a_name_the_font_lacks_is_refused_before_printing_and_listed(
    engine, keys, tmp_path, monkeypatch, capsys
):
    rows = [list(r) for r in ROWS]
    rows[2][0] = "张𪚥"  # U+2A6A5, CJK Extension B: not in Noto Serif CJK SC
    final_round(engine, keys, tmp_path, rows)
    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("JIFEN_DATA_KEY", KEYS_SECRET)
    monkeypatch.setenv("JIFEN_SIGNING_KEY", str(tmp_path / "signing.pem"))
    from app.certificates.models import Certificate, PrintBatch
    from app.certificates.signing import write_new_key

    write_new_key(tmp_path / "signing.pem")
    out = tmp_path / "c.pdf"
    try:
        assert main(["certificates", "print", "zs-2026-p1", "-o", str(out)]) == 1
    finally:
        app_db._ENGINES.pop(engine.url.render_as_string(hide_password=False), None)
    said = capsys.readouterr()
    assert said.err == (
        "以下 1 份未打印 / not printed:\n"
        "  ZS2026-P1-000003：姓名中有 1 个字字体中没有，不能打印，须人工填写\n"
    )
    assert "已打印 5 份通知书（新签发 5 份）" in said.out
    assert "张" not in pdf_text(out) and len(numbers_in(out)) == 5
    with transaction(engine, write=False) as session:
        issued = session.exec(select(Certificate.application_no)).all()
        batch = session.exec(select(PrintBatch)).one()
    assert "ZS2026-P1-000003" not in issued and len(issued) == 5  # never issued
    assert json.loads(batch.refused)[0]["application_no"] == "ZS2026-P1-000003"


def test_only_a_final_round_with_certificate_settings_prints(engine, keys, tmp_path):
    from app.applications.operations import Refused
    from app.certificates.operations import Signer, prepare_batch
    from app.certificates.signing import Ed25519PrivateKey
    from app.rounds.operations import RoundError

    config = round_config()
    config.update(
        application_window=["2026-01-05", "2026-02-05"], publicity_days=0, objection_days=0
    )
    with transaction(engine) as session:
        create_round(session, CITY, config, today=dt.date(2026, 1, 1))
    with transaction(engine) as session:
        import_applications(
            session,
            CITY,
            "zs-2026-p1",
            write_csv(tmp_path / "in.csv", ROWS),
            keys,
            today=dt.date(2026, 1, 10),
            verified=True,
        )
    signer = Signer(Ed25519PrivateKey.generate())

    def attempt() -> str:
        with pytest.raises(Refused) as refused, transaction(engine) as session:
            prepare_batch(
                session,
                CITY,
                keys,
                signer,
                "zs-2026-p1",
                zone=None,
                today=beijing_today(),
                public_url="https://x",
            )
        return refused.value.zh

    assert attempt() == "本轮尚未完成（公示和异议处理结束、本轮完成后才能打印通知书）。"
    today = beijing_today()
    for act in (allocate_round, publish, finalize):
        with transaction(engine) as session:
            act(session, CITY, "zs-2026-p1", today=today)
    assert attempt().startswith("本轮配置没有通知书设置（certificate：签发机关 issuer")
    with pytest.raises(RoundError) as wrong, transaction(engine) as session:
        create_round(
            session,
            CITY,
            {**config, "certificate": {"issuer": "市", "deadline": "8月"}},
            today=today,
        )
    assert wrong.value.problems == [
        "field 'certificate.issuer': the issuing office, 2–40 characters / "
        "签发机关应为 2 到 40 个字",
        "field 'certificate.deadline': a date YYYY-MM-DD / 办理期限应为日期",
    ]
    with transaction(engine) as session:  # after the window: only the settings may change
        create_round(session, CITY, {**config, "certificate": SETTINGS}, today=today)
    with pytest.raises(RoundError) as fixed, transaction(engine) as session:
        create_round(
            session, CITY, {**config, "publicity_days": 3, "certificate": SETTINGS}, today=today
        )
    assert "轮次配置不能再修改" in fixed.value.problems[0]
    with transaction(engine) as session:
        prepared = prepare_batch(
            session,
            CITY,
            keys,
            signer,
            "zs-2026-p1",
            zone="dongqu",
            today=today,
            public_url="https://x",
        )
    assert [p.application_no for p in prepared.pages] == [
        "ZS2026-P1-000002",
        "ZS2026-P1-000004",
        "ZS2026-P1-000006",
    ]
    with pytest.raises(RoundError) as frozen, transaction(engine) as session:
        create_round(
            session, CITY, {**config, "certificate": {**SETTINGS, "notes": []}}, today=today
        )
    assert frozen.value.problems == [
        "round zs-2026-p1: 3 certificates are issued, their settings are fixed / "
        "已签发 3 份通知书，通知书设置不能再修改"
    ]


# ---- the office ---------------------------------------------------------------------------------


def test_the_zones_windows_print_their_own_and_act_on_the_application_page(
    final, keys, tmp_path, monkeypatch
):
    from office_helpers import login, office_app, token

    from app.accounts.operations import create_user
    from app.audit.models import AuditEntry
    from app.jobs import huey

    engine = final
    monkeypatch.setattr(huey, "immediate", True)  # the job runs at once, in this process
    with transaction(engine) as session:
        create_user(
            session, CITY, "clerk_shiqi", "a long password 1", role="clerk", zones=["shiqi"]
        )
        create_user(session, CITY, "admin1", "a long password 1", role="admin")
        create_user(session, CITY, "hrss1", "a long password 1", role="reviewer", department="hrss")
    app = office_app(engine, keys, tmp_path, RATELIMIT_ENABLED=False,
                     JIFEN_SIGNING_KEY=str(tmp_path / "signing.pem"))  # fmt: skip
    clerk = app.test_client()
    login(clerk, "clerk_shiqi")
    page = clerk.get("/office/rounds/zs-2026-p1/certificates").get_data(as_text=True)
    assert '<option value="shiqi">石岐街道</option>' in page and "dongqu" not in page
    form = token(clerk, "/office/rounds/zs-2026-p1/certificates")
    refused = clerk.post(
        "/office/rounds/zs-2026-p1/certificates", data={"zone": "dongqu", "csrf_token": form}
    )
    assert refused.status_code == 404  # another zone's certificates do not exist for this clerk
    done = clerk.post(
        "/office/rounds/zs-2026-p1/certificates",
        data={"zone": "shiqi", "csrf_token": form},
        follow_redirects=True,
    )
    progress = done.get_data(as_text=True)
    assert "已生成 3 页（新签发 3 份）" in progress
    link = re.search(r'href="(/office/certificates/batches/\d+\.pdf)"', progress).group(1)
    pdf = clerk.get(link)
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF-")
    (tmp_path / "shiqi.pdf").write_bytes(pdf.data)
    assert len(numbers_in(tmp_path / "shiqi.pdf")) == 3
    assert app.test_client().get(link).status_code == 302  # no login: the login page

    application = clerk.get("/office/applications/ZS2026-P1-000001").get_data(as_text=True)
    assert "ZS2026-P1-C000001-A" in application and "（1 份）" in application
    form = token(clerk, "/office/applications/ZS2026-P1-000001")
    used = clerk.post(
        "/office/certificates/ZS2026-P1-C000001-A/use",
        data={"on": beijing_today().isoformat(), "csrf_token": form},
    )
    assert used.status_code == 303
    again = clerk.post(
        "/office/certificates/ZS2026-P1-C000001-A/use",
        data={"on": beijing_today().isoformat(), "csrf_token": form},
    )
    assert again.status_code == 422
    assert "已于" in again.get_data(as_text=True) and "登记报到" in again.get_data(as_text=True)
    not_mine = clerk.post(
        "/office/certificates/ZS2026-P1-C000001-A/revoke",
        data={"reason": "试图撤销", "csrf_token": form},
    )
    assert not_mine.status_code == 404  # only the city revokes
    reprint = clerk.post(
        "/office/certificates/ZS2026-P1-C000002-8/reprint",
        data={"reason": "通知书遗失", "csrf_token": form},
    )
    assert reprint.status_code == 303, re.findall(
        r"certificate-error\">([^<]+)", reprint.get_data(as_text=True)
    )
    assert reprint.headers["Location"].endswith(".pdf")
    listing = clerk.get("/office/applications/ZS2026-P1-000003").get_data(as_text=True)
    assert "已被 ZS2026-P1-C000004-4 替代（通知书遗失）" in listing

    reviewer = app.test_client()
    login(reviewer, "hrss1")
    assert reviewer.get("/office/rounds/zs-2026-p1/certificates").status_code == 404

    admin = app.test_client()
    login(admin, "admin1")
    report = admin.get("/office/reports/2026").get_data(as_text=True)
    # 石岐: 3 of quota 70 issued (a reprint replaced one), 1 enrolled
    assert re.search(
        r'<th scope="row">石岐街道</th><td>小学一年级</td><td class="num">70</td>'
        r'(?:<td class="num">[^<]*</td>){4}<td class="num">3</td>'
        r'<td class="num">1</td><td class="num">1%</td>',
        report,
    )
    assert "2026 年积分入学合计" in report
    with transaction(engine, write=False) as session:
        refusals = session.exec(
            select(AuditEntry.actor, AuditEntry.object_id)
            .where(AuditEntry.action == "access.refused")
            .order_by(AuditEntry.seq)
        ).all()
    assert ("clerk_shiqi", "dongqu") in refusals
    assert ("clerk_shiqi", "ZS2026-P1-C000001-A") in refusals


def test_a_large_batch_is_rendered_in_chunks_and_joined_in_order(tmp_path, monkeypatch):
    from app.certificates import render

    monkeypatch.setattr(render, "PARALLEL_FROM", 3)
    monkeypatch.setattr(render, "CHUNK", 2)  # 5 pages: chunks of 2, 2 and 1 over the helpers
    pages = [
        render.Page(
            number=f"ZS2026-P1-C00000{k}-X",
            title="积分入户核准通知书",
            issuer="中山市某办公室",
            round_name="中山市2026年积分制入户",
            name=f"李{k}华",
            masked_id="442000*********12X",
            zone="石岐街道",
            category="积分入户",
            school="",
            points="88",
            rank=str(k),
            application_no=f"ZS2026-P1-00000{k}",
            issued="2026 年 7 月 1 日",
            body="经审核……",
            next_steps=["请于 2026 年 12 月 31 日前办理入户手续。"],
            verify_url=f"https://jifen.zs.gov.cn/verify/code{k}",
        )
        for k in range(1, 6)
    ]
    seen = []
    pdf = render.render(
        pages,
        title="批次",
        author="中山市某办公室",
        created="2026-07-01",
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen == [(2, 5), (4, 5), (5, 5)]
    (tmp_path / "joined.pdf").write_bytes(pdf)
    assert numbers_in(tmp_path / "joined.pdf") == [p.number for p in pages]
    meta = subprocess.run(
        ["pdfinfo", "-meta", str(tmp_path / "joined.pdf")], capture_output=True, text=True
    ).stdout
    assert 'pdfaid:part="3"' in meta and 'pdfaid:conformance="U"' in meta
    assert (
        qr_on_page(tmp_path / "joined.pdf", 4, tmp_path) == "https://jifen.zs.gov.cn/verify/code4"
    )


def test_the_applicants_status_page_says_where_the_certificate_stands(final, keys, tmp_path):
    engine = final
    client = _client(engine, keys, tmp_path)
    form_token = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')

    def token(page_path: str) -> str:
        return form_token.search(client.get(page_path).get_data(as_text=True)).group(1)

    def status(number: str, row: list[str]) -> str:
        page = client.post("/status", data={"csrf_token": token("/status"),
                                            "application_no": number, "id_number": row[1],
                                            "name": row[0]})  # fmt: skip
        assert page.status_code == 200
        found = re.search(r'<p id="certificate">(.*?)</p>', page.get_data(as_text=True), re.S)
        return " ".join(found.group(1).split())

    assert status("ZS2026-P1-000001", ROWS[0]) == (
        "本轮已完成。录取通知书打印后，请到下方的受理窗口领取。"
    )
    printed(tmp_path)
    issued = chinese_date(beijing_today())
    assert status("ZS2026-P1-000001", ROWS[0]) == (
        f"录取通知书（编号 ZS2026-P1-C000001-A）已于 {issued}签发，请到下方的受理窗口领取，"
        "并于 2026 年 8 月 31 日前到学校报到。"
    )
    assert main(["certificates", "used", "ZS2026-P1-C000001-A"]) == 0
    assert status("ZS2026-P1-000001", ROWS[0]) == (
        f"通知书 ZS2026-P1-C000001-A 已于 {issued}登记报到。"
    )
    assert main(["certificates", "revoke", "ZS2026-P1-C000002-8", "--reason", "材料造假"]) == 0
    assert status("ZS2026-P1-000003", ROWS[2]) == (
        "您的通知书（编号 ZS2026-P1-C000002-8）已被撤销：材料造假。如有疑问，请联系下方的受理窗口。"
    )


def test_downloads_and_acts_keep_to_their_zone_and_bad_input_is_a_404(
    final, keys, tmp_path, monkeypatch
):
    import datetime as _dt
    import hashlib

    from office_helpers import login, office_app, token

    import app.accounts.web as web
    from app.accounts.operations import create_user
    from app.certificates.models import PrintBatch
    from app.jobs import huey

    engine = final
    monkeypatch.setattr(huey, "immediate", True)
    with transaction(engine) as session:
        for name, role, zones in (("clerk_shiqi", "clerk", ["shiqi"]),
                                  ("clerk_dongqu", "clerk", ["dongqu"]),
                                  ("auditor1", "auditor", [])):  # fmt: skip
            create_user(session, CITY, name, "a long password 1", role=role, zones=zones)
    app = office_app(engine, keys, tmp_path, RATELIMIT_ENABLED=False,
                     JIFEN_SIGNING_KEY=str(tmp_path / "signing.pem"))  # fmt: skip
    shiqi, dongqu, auditor = app.test_client(), app.test_client(), app.test_client()
    for client, name in ((shiqi, "clerk_shiqi"), (dongqu, "clerk_dongqu"), (auditor, "auditor1")):
        login(client, name)
    form = token(shiqi, "/office/rounds/zs-2026-p1/certificates")
    # a clerk of one zone printing without choosing: the batch is that zone's, and theirs
    done = shiqi.post("/office/rounds/zs-2026-p1/certificates", data={"csrf_token": form},
                      follow_redirects=True).get_data(as_text=True)  # fmt: skip
    link = re.search(r'href="(/office/certificates/batches/\d+\.pdf)"', done).group(1)
    # every page load writes the login's last-seen time: the download's audit entry must not
    # share the request's reading transaction (SQLite refuses that write)
    monkeypatch.setattr(web, "SEEN_EVERY", _dt.timedelta(0))
    pdf = shiqi.get(link)
    assert pdf.status_code == 200
    with transaction(engine, write=False) as session:
        batch = session.exec(select(PrintBatch)).one()
    assert batch.zone_id == "shiqi" and hashlib.sha256(pdf.data).hexdigest() == batch.pdf_sha256
    assert dongqu.get(link).status_code == 404  # another zone's batch
    assert auditor.get(link).status_code == 404  # full names: not for auditors
    assert "打印记录" in auditor.get("/office/rounds/zs-2026-p1/certificates").get_data(
        as_text=True
    )

    assert shiqi.get("/office/certificates/batches/99999999999999999999.pdf").status_code == 404
    assert shiqi.get("/office/certificates/batches/2147483648.pdf").status_code == 404
    assert shiqi.post(f"/office/certificates/{'Z' * 70}/revoke",
                      data={"reason": "试试", "csrf_token": form}).status_code == 404  # fmt: skip
    assert shiqi.post("/office/rounds/zs-2026-p1/certificates",
                      data={"zone": "x" * 100, "csrf_token": form}).status_code == 404  # fmt: skip
    assert auditor.get("/office/reports/99999999999").status_code == 404

    form = token(shiqi, "/office/applications/ZS2026-P1-000001")
    shiqi.post("/office/certificates/ZS2026-P1-C000001-A/use",
               data={"on": beijing_today().isoformat(), "csrf_token": form})  # fmt: skip
    again = shiqi.post("/office/certificates/ZS2026-P1-C000001-A/reprint",
                       data={"reason": "通知书遗失", "csrf_token": form})  # fmt: skip
    assert again.status_code == 422
    today = chinese_date(beijing_today())
    assert f"通知书 ZS2026-P1-C000001-A 已于 {today}登记报到，不能补打。" in again.get_data(
        as_text=True
    )


def test_a_code_is_read_strictly_and_a_retired_key_signs_nothing_new():
    from app.certificates.signing import (
        Ed25519PrivateKey,
        InvalidCode,
        Published,
        key_id,
        sign,
        verify,
    )  # fmt: skip

    private = Ed25519PrivateKey.generate()
    claims = {"v": 1, "number": "ZS2026-P1-C000001-A", "kind": "school", "issued": "2026-12-01"}
    code = sign(private, claims)
    kid = key_id(private.public_key())
    assert verify(code, {kid: Published(private.public_key())}).claims == claims
    retired = {kid: Published(private.public_key(), dt.date(2026, 11, 30))}
    with pytest.raises(InvalidCode, match="retired"):
        verify(code, retired)  # issued the day after its key stopped signing
    assert verify(code, {kid: Published(private.public_key(), dt.date(2026, 12, 1))})
    for bent in (code + "==", code[:20] + "!" + code[20:], " " + code, code + "A"):
        with pytest.raises(InvalidCode):
            verify(bent, {kid: Published(private.public_key())})


def test_a_reprint_whose_pdf_cannot_be_made_changes_nothing_and_says_so(
    final, keys, tmp_path, monkeypatch, caplog
):
    from office_helpers import login, office_app, token

    import app.certificates.printing as printing
    from app.accounts.operations import create_user
    from app.audit.models import AuditEntry
    from app.certificates.models import Certificate
    from app.jobs import huey

    engine = final
    monkeypatch.setattr(huey, "immediate", True)
    with transaction(engine) as session:
        create_user(
            session, CITY, "clerk_shiqi", "a long password 1", role="clerk", zones=["shiqi"]
        )
    app = office_app(engine, keys, tmp_path, RATELIMIT_ENABLED=False,
                     JIFEN_SIGNING_KEY=str(tmp_path / "signing.pem"))  # fmt: skip
    clerk = app.test_client()
    login(clerk, "clerk_shiqi")
    done = clerk.post(
        "/office/rounds/zs-2026-p1/certificates",
        data={
            "zone": "shiqi",
            "csrf_token": token(clerk, "/office/rounds/zs-2026-p1/certificates"),
        },
        follow_redirects=True,
    )
    assert "已生成 3 页（新签发 3 份）" in done.get_data(as_text=True)

    def stored():
        with transaction(engine, write=False) as session:
            certs = sorted((c.number, c.state) for c in session.exec(select(Certificate)))
            reprints = session.exec(
                select(AuditEntry).where(AuditEntry.action == "certificate.reprint")
            ).all()
            return certs, len(reprints)

    before = stored()
    names = []

    def broken(pages, **_):  # a failure whose text quotes the page, as WeasyPrint's may
        names.append(pages[0].name)
        raise RuntimeError(f"layout failed on the page of {pages[0].name}")

    monkeypatch.setattr(printing, "render", broken)
    form = token(clerk, "/office/applications/ZS2026-P1-000001")
    with caplog.at_level("ERROR"):
        r = clerk.post(
            "/office/certificates/ZS2026-P1-C000002-8/reprint",
            data={"reason": "通知书遗失", "csrf_token": form},
        )
    assert r.status_code == 422
    assert (
        "通知书 ZS2026-P1-C000002-8 的补发件未能生成，未作任何改动（原通知书不变），请稍后重试；"
        "如仍不能生成，请联系系统管理员。"
    ) in r.get_data(as_text=True)
    assert stored() == before  # no new number, the old one still valid, nothing audited
    assert "RuntimeError" in caplog.text and names and names[0] not in caplog.text
    monkeypatch.undo()  # the renderer works again: the same reprint goes through
    monkeypatch.setattr(huey, "immediate", True)
    r = clerk.post(
        "/office/certificates/ZS2026-P1-C000002-8/reprint",
        data={"reason": "通知书遗失", "csrf_token": form},
    )
    assert r.status_code == 303 and r.headers["Location"].endswith(".pdf")
    certs, reprints = stored()
    assert reprints == 1 and ("ZS2026-P1-C000002-8", "superseded") in certs
