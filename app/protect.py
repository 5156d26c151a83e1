"""Personal data at rest: encryption, keyed lookup hashes, masking, ID-number checks.

ID numbers, names and phone numbers are stored only encrypted (AES-256-GCM, a fresh nonce per
value, the field name bound in as associated data so a value cannot be moved to another column)
and found by keyed hashes (HMAC-SHA256), so a duplicate is caught without decrypting anything.
Both keys are derived (HKDF-SHA256) from one secret, `JIFEN_DATA_KEY`, which never enters the
database. On screen an ID number shows as its first 6 and last 3 characters.
"""

from __future__ import annotations

import datetime as dt
import functools
import hmac
import os
import re
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from stdnum import exceptions as stdnum_errors
from stdnum.cn import ric

VERSION = b"\x01"  # the first byte of every ciphertext: which scheme wrote it
MIN_SECRET = 32


class DataKeyError(RuntimeError):
    """No usable data key (production refuses to start without one)."""


class DecryptError(ValueError):
    """A ciphertext that this key did not write, or that was altered."""


@dataclass(frozen=True)
class DataKeys:
    encrypt: bytes
    lookup: bytes

    @classmethod
    def from_secret(cls, secret: str | bytes) -> DataKeys:
        raw = secret.encode() if isinstance(secret, str) else secret
        if len(raw) < MIN_SECRET:
            raise DataKeyError(f"JIFEN_DATA_KEY must be at least {MIN_SECRET} characters")

        def derive(purpose: bytes) -> bytes:
            return HKDF(hashes.SHA256(), 32, salt=b"jifen data key", info=purpose).derive(raw)

        return cls(derive(b"encrypt v1"), derive(b"lookup v1"))


def load_keys(environ: dict[str, str] | None = None, instance: Path | None = None) -> DataKeys:
    """The data keys from `JIFEN_DATA_KEY`; in development, from `instance/data.key` (made on first
    use, with a warning); in production (`JIFEN_ENV=production`) a missing key is an error."""
    env = os.environ if environ is None else environ
    secret = env.get("JIFEN_DATA_KEY", "").strip()
    if secret:
        return DataKeys.from_secret(secret)
    if env.get("JIFEN_ENV", "").strip().lower() == "production":
        raise DataKeyError("JIFEN_DATA_KEY is not set: refusing to start in production")
    from app.db import INSTANCE

    path = (instance or INSTANCE) / "data.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        import sys

        print(
            f"警告：未设置 JIFEN_DATA_KEY，已生成开发用密钥 {path}（生产环境必须设置）/ "
            f"warning: JIFEN_DATA_KEY not set, generated a development key in {path}",
            file=sys.stderr,
        )
    return DataKeys.from_secret(path.read_text().strip())


@functools.lru_cache(maxsize=8)
def _aead(key: bytes) -> AESGCM:
    return AESGCM(key)  # one per key: an import encrypts three fields of every row


def encrypt(keys: DataKeys, field: str, value: str) -> bytes:
    return encrypt_bytes(keys, field, value.encode("utf-8"))


def decrypt(keys: DataKeys, field: str, blob: bytes) -> str:
    return decrypt_bytes(keys, field, blob).decode("utf-8")


def encrypt_bytes(keys: DataKeys, field: str, data: bytes) -> bytes:
    """A value (text as UTF-8, or a file such as a batch of certificates' PDF) sealed with a
    fresh nonce, the field name bound in as associated data."""
    nonce = os.urandom(12)
    return VERSION + nonce + _aead(keys.encrypt).encrypt(nonce, data, field.encode())


def decrypt_bytes(keys: DataKeys, field: str, blob: bytes) -> bytes:
    if not blob or blob[:1] != VERSION:
        raise DecryptError(field)
    try:
        return _aead(keys.encrypt).decrypt(blob[1:13], blob[13:], field.encode())
    except Exception:  # cryptography raises InvalidTag; never say more than "not ours"
        raise DecryptError(field) from None


def lookup_hash(keys: DataKeys, field: str, value: str) -> str:
    """A keyed hash that finds a value without storing it (hex, 64 characters)."""
    message = field.encode() + b"\x00" + value.encode("utf-8")
    return hmac.digest(keys.lookup, message, "sha256").hex()  # hmac.new's, in one call


def normal_name(name: str) -> str:
    """A name as it is compared: NFKC (full-width letters and spaces folded), no spaces."""
    return "".join(unicodedata.normalize("NFKC", name).split())


# ---- ID numbers -----------------------------------------------------------------------------


class IdNumberError(ValueError):
    def __init__(self, zh: str, en: str):
        super().__init__(zh, en)
        self.zh, self.en = zh, en


# A spreadsheet that took the column for numbers keeps 15 digits: it shows and saves the
# number as 4.42E+17, or as the first 15 digits and three zeros. Neither can be repaired from
# the file, so the message says how to enter the numbers again.
_AS_A_NUMBER = re.compile(r"^[0-9]+(?:\.[0-9]*)?E\+?[0-9]+$")
STORED_AS_NUMBER = (
    "身份证号被表格软件存成了数字（显示为 4.42E+17 这样的形式），后几位已经丢失：请把该列设为"
    "文本格式，重新填写号码后再导入",
    "the ID number was stored as a number (shown as 4.42E+17) and its last digits are lost: "
    "format the column as text and enter the numbers again",
)
ZEROS_AT_THE_END = (
    "身份证号校验码不正确：末 3 位为 000，可能是表格软件把号码当作数字保存，丢掉了后几位；"
    "请把该列设为文本格式，重新填写号码后再导入",
    "the check digit does not match: the number ends in 000, as when a spreadsheet kept it as a "
    "number and lost its last digits; format the column as text and enter the numbers again",
)


def check_id_number(raw: str, birth_date: dt.date | None = None) -> str:
    """The 18-character 居民身份证号码, normalised (upper-case X), or IdNumberError (Chinese and
    English, never repeating the number). Checks the check digit, the birth date and that the
    region code existed in the year of birth (python-stdnum's data)."""
    text = unicodedata.normalize("NFKC", str(raw)).strip().upper()
    if _AS_A_NUMBER.match(text):
        raise IdNumberError(*STORED_AS_NUMBER)
    if len(text) != 18 or not text[:17].isascii() or not text[:17].isdigit():
        raise IdNumberError(
            "身份证号应为 18 位（前 17 位为数字，末位为数字或 X）",
            "must be 18 characters: 17 digits, then a digit or X",
        )
    if ric.calc_check_digit(text) != text[17]:
        if text.endswith("000"):  # only said when the check digit fails as well
            raise IdNumberError(*ZEROS_AT_THE_END)
        raise IdNumberError("身份证号校验码不正确", "the check digit does not match")
    born = birth_date_of(text)
    if born is None or not _region_existed(text[:6], born.year):
        raise IdNumberError(
            "身份证号中的出生日期或地区码无效", "the birth date or region code is invalid"
        )
    if birth_date is not None and born != birth_date:
        raise IdNumberError(
            "身份证号中的出生日期与出生日期一栏不一致",
            "the birth date in the ID number differs from birth_date",
        )
    return text


@functools.lru_cache(maxsize=65536)
def _region_existed(region: str, year: int) -> bool:
    """Whether the region code was assigned in that year (stdnum's lookup is slow: once each)."""
    try:
        ric.get_birth_place(f"{region}{year:04d}0101000")
    except stdnum_errors.ValidationError:
        return False
    return True


def birth_date_of(id_number: str) -> dt.date | None:
    """The date that characters 7 to 14 of a normalised number give, or None (stdnum's reading,
    without its clean-up of a number already clean: a third of the cost of checking one)."""
    try:
        return dt.date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        return None


def mask_id(id_number: str) -> str:
    """First 6 and last 3 characters: 442000*********12X."""
    return id_number[:6] + "*" * (len(id_number) - 9) + id_number[-3:]


def mask_phone(phone: str) -> str:
    """138****5678; a short number keeps only its last 2 digits."""
    if len(phone) >= 11:
        return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
    return "*" * max(0, len(phone) - 2) + phone[-2:]


def mask_name_for_publicity(name: str) -> str:
    """张*明、欧阳*华、王*: the first and the last character, the middle masked (the 公示 lists'
    去标识化 form); a two-character name keeps only its first, a one-character name nothing."""
    if len(name) == 1:  # a one-character name shows nothing of itself
        return "*"
    if len(name) <= 2:
        return name[:1] + "*" * (len(name) - 1)
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_name(name: str) -> str:
    """张*、欧阳**: the family name's first character, the rest masked (as 公示 lists show)."""
    return name[:1] + "*" * (len(name) - 1) if name else ""
