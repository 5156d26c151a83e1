"""The signed payload of a certificate's QR code, and the keys that sign and check it.

The payload follows the EU digital COVID certificate's layering, with Ed25519 in place of
ECDSA: the claims are a CBOR map, signed as a COSE_Sign1 structure (RFC 9052, algorithm EdDSA
-8, the key id in the protected header), compressed with zlib and written in base64url without
padding. The QR holds `JIFEN_PUBLIC_URL/verify/<code>`, so a phone camera opens the public
verification page, while `jifen certificates verify` checks the same code offline against the
published keys. The claims are the certificate's minimum (docs/certificates.md): never an ID
number, never a full name.

This module needs neither Flask nor the database.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import os
import re
import sys
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

COSE_SIGN1_TAG = 18
ALG_EDDSA = -8
HEADER_ALG, HEADER_KID = 1, 4
MAX_CODE = 2000  # characters; a real code is about 300
CODE_CHARACTERS = re.compile(r"[A-Za-z0-9_-]+")

# The claims' CBOR keys (small integers keep the QR small); docs/certificates.md lists them.
CLAIMS = {
    0: "v",  # payload version: 1
    1: "number",  # 通知书编号
    2: "kind",  # "hukou" (入户) or "school" (入学)
    3: "round",  # round id
    4: "year",
    5: "zone",  # the zone's name
    6: "name",  # the masked name (张*明)
    7: "points_cents",  # the verified ranking score × 100
    8: "school",  # the school's name (school certificates only)
    9: "issued",  # YYYY-MM-DD
    10: "rank",  # the rank in the zone
}
KEYS_OF = {name: key for key, name in CLAIMS.items()}


class InvalidCode(ValueError):
    """Not a code this system signed: unreadable, altered, or signed by an unknown key."""


@dataclass(frozen=True)
class Signed:
    kid: str
    claims: dict


@dataclass(frozen=True)
class Published:
    """A public key as verifiers know it: from its retirement on, it signs nothing more, so a
    code it signed with a later issue date is not genuine (a leaked old key forges nothing)."""

    public: Ed25519PublicKey
    retired_on: dt.date | None = None


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_id(public: Ed25519PublicKey) -> str:
    """The first 8 bytes of the SHA-256 of the raw public key, in base64url (11 characters)."""
    return b64(hashlib.sha256(raw_public(public)).digest()[:8])


def raw_public(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_from_raw(raw: bytes) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(raw)


def _sig_structure(protected: bytes, payload: bytes) -> bytes:
    return cbor2.dumps(["Signature1", protected, b"", payload])


def sign(private: Ed25519PrivateKey, claims: Mapping[str, object]) -> str:
    """The code of these claims (names as in CLAIMS), signed with this key."""
    unknown = set(claims) - set(KEYS_OF)
    if unknown:
        raise ValueError(f"unknown claims {sorted(unknown)}")
    kid = unb64(key_id(private.public_key()))
    protected = cbor2.dumps({HEADER_ALG: ALG_EDDSA, HEADER_KID: kid})
    payload = cbor2.dumps({KEYS_OF[name]: value for name, value in claims.items()})
    signature = private.sign(_sig_structure(protected, payload))
    cose = cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature]))
    return b64(zlib.compress(cose, 9))


def code_of(text: str) -> str:
    """The code in a scanned text: the whole verification URL or the code alone."""
    text = text.strip()
    return text.rsplit("/verify/", 1)[-1] if "/verify/" in text else text


def verify(code: str, keys: Mapping[str, Published]) -> Signed:
    """The claims of a code whose signature one of these keys (by key id) made, while it was in
    force. Read strictly: a code with anything around it, or after its data, is not one."""
    if not code or len(code) > MAX_CODE or not CODE_CHARACTERS.fullmatch(code):
        raise InvalidCode("empty, too long, or not base64url")
    try:
        inflate = zlib.decompressobj()
        cose = cbor2.loads(inflate.decompress(unb64(code), 4 * MAX_CODE))
        if inflate.unused_data or inflate.unconsumed_tail or not inflate.eof:
            raise ValueError("data after the compressed payload")
    except (binascii.Error, ValueError, zlib.error, cbor2.CBORDecodeError) as exc:
        raise InvalidCode(f"unreadable: {type(exc).__name__}") from None
    if not (
        isinstance(cose, cbor2.CBORTag)
        and cose.tag == COSE_SIGN1_TAG
        and isinstance(cose.value, list | tuple)  # cbor2 6 reads arrays as tuples
        and len(cose.value) == 4
        and all(isinstance(part, bytes) for part in (cose.value[0], *cose.value[2:]))
    ):
        raise InvalidCode("not a COSE_Sign1 structure")
    protected, _, payload, signature = cose.value
    try:
        header = cbor2.loads(protected)
    except (ValueError, cbor2.CBORDecodeError):
        raise InvalidCode("unreadable protected header") from None
    if not isinstance(header, Mapping) or header.get(HEADER_ALG) != ALG_EDDSA:
        raise InvalidCode("not signed with EdDSA")
    kid = header.get(HEADER_KID)
    known = keys.get(b64(kid)) if isinstance(kid, bytes) else None
    if known is None:
        raise InvalidCode("unknown key")
    try:
        known.public.verify(signature, _sig_structure(protected, payload))
    except InvalidSignature:
        raise InvalidCode("bad signature") from None
    try:
        raw = cbor2.loads(payload)
    except (ValueError, cbor2.CBORDecodeError):
        raise InvalidCode("unreadable claims") from None
    if not isinstance(raw, Mapping) or raw.get(0) != 1 or not isinstance(raw.get(1), str):
        raise InvalidCode("not a version 1 certificate")
    claims = {CLAIMS[k]: v for k, v in raw.items() if k in CLAIMS}
    try:
        issued = dt.date.fromisoformat(str(claims.get("issued")))
    except ValueError:
        raise InvalidCode("no issue date") from None
    if known.retired_on is not None and issued > known.retired_on:
        raise InvalidCode("issued after its key was retired")
    return Signed(b64(kid), claims)


# -- the signing key ---------------------------------------------------------------------------


class SigningKeyError(RuntimeError):
    """No usable signing key (production refuses to start without one)."""


def load_signing_key(
    environ: Mapping[str, str] | None = None, instance: Path | None = None
) -> Ed25519PrivateKey:
    """The private key of the file `JIFEN_SIGNING_KEY` names (PEM, PKCS #8); in development,
    `instance/signing-key.pem`, made on first use with a warning; in production
    (`JIFEN_ENV=production`) a missing key is an error."""
    env = os.environ if environ is None else environ
    named = env.get("JIFEN_SIGNING_KEY", "").strip()
    if named:
        path = Path(named)
    elif env.get("JIFEN_ENV", "").strip().lower() == "production":
        raise SigningKeyError("JIFEN_SIGNING_KEY is not set: refusing to start in production")
    else:
        from app.db import INSTANCE

        path = (instance or INSTANCE) / "signing-key.pem"
        if not path.exists():
            write_new_key(path)
            print(
                f"警告：未设置 JIFEN_SIGNING_KEY，已生成开发用签名密钥 {path}（生产环境必须设置）/ "
                f"warning: JIFEN_SIGNING_KEY not set, generated a development signing key in "
                f"{path}",
                file=sys.stderr,
            )
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise SigningKeyError(f"JIFEN_SIGNING_KEY {path}: {type(exc).__name__}: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"JIFEN_SIGNING_KEY {path}: not an Ed25519 private key")
    return key


def write_new_key(path: Path) -> str:
    """A new Ed25519 private key in a file only its owner reads; returns its key id."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return key_id(key.public_key())


# -- the published keys ------------------------------------------------------------------------

KEYS_FORMAT = "jifen.keys/1"


def keys_document(rows: list[dict]) -> dict:
    """The document `/verify/keys` publishes: each key's id, its raw public key (base64url, as a
    JWK's `x`) and its validity (signing from `valid_from`, retired from signing at
    `retired_at`; a retired key still verifies what it signed)."""
    return {
        "format": KEYS_FORMAT,
        "keys": [
            {
                "kid": row["kid"],
                "kty": "OKP",
                "crv": "Ed25519",
                "alg": "EdDSA",
                "x": b64(row["public_key"]),
                "valid_from": row["valid_from"],
                "retired_at": row["retired_at"],
            }
            for row in rows
        ],
    }


def keys_from_document(document: object) -> dict[str, Published]:
    """The public keys of a `jifen.keys/1` document, by key id; ValueError names a bad entry."""
    if not isinstance(document, dict) or document.get("format") != KEYS_FORMAT:
        raise ValueError(f"not a {KEYS_FORMAT} document / 不是公钥文件")
    found = {}
    for n, entry in enumerate(document.get("keys") or []):
        try:
            public = public_from_raw(unb64(entry["x"]))
            if key_id(public) != entry["kid"]:
                raise ValueError("kid does not match the key")
            retired = entry.get("retired_at")
            retired_on = dt.date.fromisoformat(retired[:10]) if retired else None
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise ValueError(f"keys[{n}]: {exc} / 第 {n + 1} 个公钥无效") from None
        found[entry["kid"]] = Published(public, retired_on)
    return found


def iso(moment: dt.datetime | None) -> str | None:
    """A stored UTC time as `2026-07-01T08:00:00Z`."""
    if moment is None:
        return None
    return moment.astimezone(dt.UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"
