"""Studies: whether a study's researchers see identifiable photos.

Off by default: researchers see the photos of a study's patients with the eyes and mouth
masked (core.deidentify, applied by usecases.photos.load_photo_for on every page and in the
PDF report). Only an administrator switches it, each way with a reason that the audit trail
keeps with who and when (db.repository.set_identifiable_photos).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.deidentify import MASKED_NOTE
from core.types import Right, role_may
from db.errors import NotFound
from db.models import Account
from db.repository import (
    get_account,
    get_study,
    list_photo_decisions,
)
from db.repository import set_identifiable_photos as repo_set_identifiable_photos
from db.repository.studies import PHOTO_DECISION
from usecases.clinic import Clinic

IDENTIFIABLE_NOTE = ("An administrator allowed identifiable photos for this study: its "
                     "researchers see the photos as taken.")


@dataclass(frozen=True)
class PhotoDecision:
    """One switch of the setting, from the audit trail."""

    at: datetime
    by: str
    allowed: bool
    reason: str


@dataclass(frozen=True)
class StudyPhotos:
    """How the study's researchers see photos, in a sentence; whether this account may switch
    it (administrators), and for them the switches made so far, newest first."""

    identifiable: bool
    sentence: str
    may_change: bool
    decisions: tuple[PhotoDecision, ...] = ()


def _decision(detail: str) -> tuple[bool, str]:
    """(allowed, reason) from an audit detail written by set_identifiable_photos."""
    setting, _, reason = detail.removeprefix(PHOTO_DECISION + ": ").partition("; reason: ")
    return setting == "allowed", reason


def study_photos(clinic: Clinic, actor: Account, study_id: int) -> StudyPhotos:
    """The study's photo setting as this account may see it; NotFound when it may not see the
    study."""
    with clinic.session() as session:
        study = get_study(session=session, actor=actor, study_id=study_id)
        if study is None:
            raise NotFound(f"no study with id {study_id!r}")
        identifiable = bool(study.identifiable_photos_for_researchers)
        admin = get_account(session=session, account_id=actor.id)
        may_change = admin is not None and admin.is_active and role_may(admin.role, Right.ADMINISTER)
        decisions: list[PhotoDecision] = []
        if may_change:
            names: dict[int | None, str] = {}
            for event in list_photo_decisions(session=session, actor=actor, study_id=study_id):
                if event.account_id not in names:
                    account = (get_account(session=session, account_id=event.account_id)
                               if event.account_id is not None else None)
                    names[event.account_id] = (account.full_name or account.username) if account else "unknown"
                allowed, reason = _decision(event.detail)
                decisions.append(PhotoDecision(at=event.at, by=names[event.account_id],
                                               allowed=allowed, reason=reason))
    return StudyPhotos(identifiable=identifiable,
                       sentence=IDENTIFIABLE_NOTE if identifiable else MASKED_NOTE,
                       may_change=may_change, decisions=tuple(decisions))


def set_identifiable_photos(clinic: Clinic, actor: Account, *, study_id: int, allowed: bool,
                            reason: str) -> bool:
    """Allow or stop identifiable photos for the study's researchers; returns the new setting.
    Raises PermissionDenied for anyone but an administrator, ValueError without a reason,
    NotFound for an unknown study."""
    with clinic.session() as session:
        study = repo_set_identifiable_photos(session=session, actor=actor, study_id=study_id,
                                             allowed=allowed, reason=reason)
        return bool(study.identifiable_photos_for_researchers)
