"""Approval certificates (核准通知书 / 录取通知书): each one issued, every copy printed, the
batches they were printed in, and the keys that signed them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, LargeBinary, Text
from sqlmodel import Field, SQLModel

STATES = ("valid", "revoked", "superseded")


class SigningKey(SQLModel, table=True):
    """A public key that signed certificates (published at /verify/keys). The key in force is the
    one `JIFEN_SIGNING_KEY` holds; an earlier key is retired from signing but still verifies."""

    __tablename__ = "signing_key"

    kid: str = Field(primary_key=True, max_length=16)
    public_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # raw, 32 bytes
    valid_from: dt.datetime
    retired_at: dt.datetime | None = None


class Certificate(SQLModel, table=True):
    """One certificate issued to one admitted application. Its claims are what its QR code
    signs (`code`): printing it again prints the same number and the same code."""

    __tablename__ = "certificate"

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=48, unique=True)  # ZS2026-P1-C000123-7
    sequence: int  # within the round
    round_id: str = Field(foreign_key="round.id", max_length=64, index=True)
    application_id: int = Field(foreign_key="application.id", index=True)
    application_no: str = Field(max_length=40)
    run_id: int = Field(foreign_key="allocation_run.id")  # the final run it was issued on
    kind: str = Field(max_length=16)  # hukou, school
    zone_id: str = Field(max_length=32)
    category: str = Field(max_length=32)
    school: str | None = Field(default=None, max_length=32)
    points_cents: int
    zone_rank: int | None = None
    masked_name: str = Field(max_length=64)  # 张*明, as the QR holds it
    issued_on: dt.date
    kid: str = Field(foreign_key="signing_key.kid", max_length=16)
    code: str = Field(sa_column=Column(Text, nullable=False))
    state: str = Field(default="valid", max_length=16)
    reason: str = Field(default="", max_length=500)  # why revoked or reprinted
    replaced_by: str = Field(default="", max_length=48)  # the new number, when superseded
    changed_at: dt.datetime | None = None
    changed_by: str = Field(default="", max_length=64)
    used_on: dt.date | None = None  # the applicant registered (入户) or enrolled (报到)
    used_by: str = Field(default="", max_length=64)
    issued_by: str = Field(max_length=64)


class PrintBatch(SQLModel, table=True):
    """One printing: who printed which certificates of which round and zone. The PDF is kept,
    encrypted (it holds full names), so the office can download it again."""

    __tablename__ = "certificate_batch"

    id: int | None = Field(default=None, primary_key=True)
    round_id: str = Field(foreign_key="round.id", max_length=64, index=True)
    zone_id: str = Field(default="", max_length=32)  # "" for every zone
    created_at: dt.datetime
    created_by: str = Field(max_length=64)
    pages: int
    refused: str = Field(default="[]", sa_column=Column(Text, nullable=False))  # JSON list
    pdf_sha256: str = Field(default="", max_length=64)
    pdf_enc: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))


class CertificateCopy(SQLModel, table=True):
    """Every copy printed, in a batch or one by one: all stay listed on the application."""

    __tablename__ = "certificate_copy"

    id: int | None = Field(default=None, primary_key=True)
    certificate_id: int = Field(foreign_key="certificate.id", index=True)
    batch_id: int | None = Field(default=None, foreign_key="certificate_batch.id")
    printed_at: dt.datetime
    printed_by: str = Field(max_length=64)
