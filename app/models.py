"""Every table of the office side, imported in one place (for Alembic and `create_all`)."""

from sqlmodel import SQLModel

from app.accounts.models import StaffSession, User, UserZone
from app.applications.models import (
    Applicant,
    Application,
    ApplicationMessage,
    ClaimedFact,
    ScoreSnapshot,
)
from app.audit.models import AuditEntry, AuditHead
from app.certificates.models import Certificate, CertificateCopy, PrintBatch, SigningKey
from app.exchange.models import ApiToken
from app.objections.models import Objection
from app.rounds.models import (
    AllocationRun,
    Outcome,
    Round,
    RoundVersion,
    RoundZone,
    School,
    Zone,
)
from app.status.models import StatusLock
from app.verification.models import FactChange

metadata = SQLModel.metadata

__all__ = [
    "AllocationRun",
    "ApiToken",
    "Applicant",
    "Application",
    "ApplicationMessage",
    "AuditEntry",
    "AuditHead",
    "Certificate",
    "CertificateCopy",
    "ClaimedFact",
    "FactChange",
    "Objection",
    "Outcome",
    "PrintBatch",
    "Round",
    "RoundVersion",
    "RoundZone",
    "School",
    "ScoreSnapshot",
    "SigningKey",
    "StaffSession",
    "StatusLock",
    "User",
    "UserZone",
    "Zone",
    "metadata",
]
