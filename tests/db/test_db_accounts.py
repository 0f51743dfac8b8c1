"""Accounts: bcrypt passwords, sign-in throttling and lockout, admin-only changes."""
from __future__ import annotations

from datetime import timedelta

import pytest
from tests.db.db_factories import PASSWORD, make_account
from pydantic import ValidationError
from sqlmodel import Session, select

from db import repository as repo
from db.engine import new_session
from db.errors import DuplicateError, PermissionDenied
from db.models import Account, AccountCreate, AuditEvent, utcnow


def _audit(session: Session, action: str) -> list[AuditEvent]:
    return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


def test_create_account_hashes_the_password(session: Session) -> None:
    assert repo.count_accounts(session=session) == 0
    admin = make_account(session, "boss", role="admin")
    assert repo.count_accounts(session=session) == 1
    assert admin.password_hash.startswith("$2") and PASSWORD not in admin.password_hash
    assert repo.verify_password(PASSWORD, admin.password_hash)
    assert not repo.verify_password("wrong password", admin.password_hash)
    assert repo.get_account(session=session, account_id=admin.id).username == "boss"
    assert repo.get_account_by_username(session=session, username="boss").id == admin.id
    assert repo.get_account(session=session, account_id=999) is None


def test_the_first_account_must_be_an_admin(session: Session) -> None:
    with pytest.raises(ValueError, match="first account must be an admin"):
        make_account(session, "dr_first", role="clinician")
    assert repo.count_accounts(session=session) == 0


def test_duplicate_username_is_refused(session: Session, admin: Account) -> None:
    with pytest.raises(DuplicateError, match="admin"):
        make_account(session, "admin", role="clinician")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"username": "a b", "password": PASSWORD}, "username"),
        ({"username": "ok_name", "password": "short"}, "at least 8"),
        ({"username": "ok_name", "password": "é" * 40}, "72 bytes"),
        ({"username": "ok_name", "password": PASSWORD, "role": "owner"}, "role"),
    ],
)
def test_invalid_account_data_is_refused(fields: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        AccountCreate(**fields)


def test_only_admins_create_accounts_when_an_actor_is_given(
    session: Session, admin: Account, clinician: Account
) -> None:
    with pytest.raises(PermissionDenied):
        repo.create_account(
            session=session, actor=clinician,
            data=AccountCreate(username="sneaky", password=PASSWORD, role="admin"),
        )
    created = repo.create_account(
        session=session, actor=admin,
        data=AccountCreate(username="new_res", password=PASSWORD, role="researcher"),
    )
    assert created.role == "researcher"
    assert [a.username for a in repo.list_accounts(session=session)] == [
        "admin", "dr_a", "new_res",
    ]
    assert [a.username for a in repo.list_accounts(session=session, role="researcher")] == [
        "new_res"
    ]


def test_authenticate_right_and_wrong_password_with_audit(session: Session, admin: Account) -> None:
    assert repo.authenticate(session=session, username="admin", password=PASSWORD).id == admin.id
    assert repo.authenticate(session=session, username="admin", password="nope nope") is None
    assert repo.authenticate(session=session, username="nobody", password=PASSWORD) is None
    logins = _audit(session, "login")
    failures = _audit(session, "login_failed")
    assert [e.account_id for e in logins] == [admin.id]
    assert [e.account_id for e in failures] == [admin.id, None]
    assert "unknown username 'nobody'" in failures[1].detail
    assert PASSWORD not in " ".join(e.detail for e in logins + failures)


def test_lockout_after_repeated_failures(session: Session, admin: Account) -> None:
    for attempt in range(3):
        assert repo.authenticate(
            session=session, username="admin", password=f"wrong-{attempt}", max_failed=3
        ) is None
    account = repo.get_account(session=session, account_id=admin.id)
    assert account.locked_until is not None and account.locked_until > utcnow()
    # Locked: even the right password is refused, and the refusal is audited.
    assert repo.authenticate(session=session, username="admin", password=PASSWORD, max_failed=3) is None
    assert "locked until" in _audit(session, "login_failed")[-1].detail

    # Once the lock has expired, the right password works and resets the counters.
    account.locked_until = utcnow() - timedelta(seconds=1)
    session.add(account)
    session.commit()
    signed_in = repo.authenticate(session=session, username="admin", password=PASSWORD, max_failed=3)
    assert signed_in is not None
    assert signed_in.failed_logins == 0 and signed_in.locked_until is None


def test_failures_below_the_limit_do_not_lock(session: Session, admin: Account) -> None:
    for _ in range(4):
        repo.authenticate(session=session, username="admin", password="bad password", max_failed=5)
    assert repo.get_account(session=session, account_id=admin.id).locked_until is None
    assert repo.authenticate(session=session, username="admin", password=PASSWORD) is not None
    assert repo.get_account(session=session, account_id=admin.id).failed_logins == 0


def test_update_account_is_admin_only(session: Session, admin: Account, clinician: Account) -> None:
    with pytest.raises(PermissionDenied):
        repo.update_account(session=session, actor=clinician, account_id=clinician.id, role="admin")
    updated = repo.update_account(
        session=session, actor=admin, account_id=clinician.id, team="east", role="researcher"
    )
    assert (updated.team, updated.role) == ("east", "researcher")
    cleared = repo.update_account(session=session, actor=admin, account_id=clinician.id, team=None)
    assert cleared.team is None and cleared.role == "researcher"
    with pytest.raises(ValueError, match="role"):
        repo.update_account(session=session, actor=admin, account_id=clinician.id, role="boss")


def test_new_password_and_unlock_lift_a_lockout(session: Session, admin: Account, clinician: Account) -> None:
    for _ in range(2):
        repo.authenticate(session=session, username="dr_a", password="bad password", max_failed=2)
    assert repo.get_account(session=session, account_id=clinician.id).locked_until is not None
    repo.update_account(session=session, actor=admin, account_id=clinician.id, password="brand new pw")
    assert repo.authenticate(session=session, username="dr_a", password="brand new pw") is not None
    assert repo.authenticate(session=session, username="dr_a", password=PASSWORD) is None

    for _ in range(2):
        repo.authenticate(session=session, username="dr_a", password="bad password", max_failed=2)
    repo.update_account(session=session, actor=admin, account_id=clinician.id, unlock=True)
    assert repo.authenticate(session=session, username="dr_a", password="brand new pw") is not None


def test_the_last_active_admin_cannot_be_removed(session: Session, admin: Account) -> None:
    with pytest.raises(ValueError, match="last active admin"):
        repo.update_account(session=session, actor=admin, account_id=admin.id, is_active=False)
    with pytest.raises(ValueError, match="last active admin"):
        repo.update_account(session=session, actor=admin, account_id=admin.id, role="clinician")
    assert repo.get_account(session=session, account_id=admin.id).role == "admin"


def test_deactivated_account_cannot_sign_in_and_loses_access_at_once(
    session: Session, admin: Account, clinician: Account
) -> None:
    from tests.db.db_factories import make_patient

    make_patient(session, clinician, "P-1")
    stale = clinician  # e.g. kept in a dashboard session
    repo.update_account(session=session, actor=admin, account_id=clinician.id, is_active=False)
    assert repo.authenticate(session=session, username="dr_a", password=PASSWORD) is None
    with new_session(session.get_bind()) as other:
        assert repo.list_patients(session=other, actor=stale) == []
        with pytest.raises(PermissionDenied):
            make_patient(other, stale, "P-2")


def test_change_own_password(session: Session, admin: Account) -> None:
    assert repo.change_password(
        session=session, actor=admin, old_password="wrong one", new_password="another pw 1"
    ) is False
    assert repo.change_password(
        session=session, actor=admin, old_password=PASSWORD, new_password="another pw 1"
    ) is True
    assert repo.authenticate(session=session, username="admin", password="another pw 1") is not None
