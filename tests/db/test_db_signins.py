"""Sign-ins kept across page reloads (issue 26 item 7; db.repository.accounts): a one-time code
becomes the cookie's token once, within a minute; the token resumes the sign-in while it is
open, and no longer after sign-out, after the session timeout without use, after a new
password or when the account is deactivated. Only hashes are stored."""
from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from db import repository as repo
from db.models import Account, SigninSession, utcnow
from tests.db.db_factories import PASSWORD

IDLE = 60


def _token(session: Session, account: Account) -> tuple[int, str]:
    signin_id, code = repo.start_signin_session(session=session, account_id=account.id)
    token = repo.redeem_signin_handoff(session=session, handoff=code, idle_minutes=IDLE)
    assert token is not None
    return signin_id, token


def test_a_code_works_once_and_only_hashes_are_stored(session: Session, clinician: Account) -> None:
    signin_id, code = repo.start_signin_session(session=session, account_id=clinician.id)
    token = repo.redeem_signin_handoff(session=session, handoff=code, idle_minutes=IDLE)
    assert token and repo.redeem_signin_handoff(session=session, handoff=code, idle_minutes=IDLE) is None
    assert repo.resume_signin_session(session=session, token=token, idle_minutes=IDLE) == (
        signin_id, clinician.id)
    row = session.get(SigninSession, signin_id)
    assert token not in (row.token_sha256, row.handoff_sha256) and row.handoff_sha256 is None
    assert repo.resume_signin_session(session=session, token="forged", idle_minutes=IDLE) is None


def test_an_old_code_is_refused(session: Session, clinician: Account) -> None:
    signin_id, code = repo.start_signin_session(session=session, account_id=clinician.id)
    row = session.get(SigninSession, signin_id)
    row.created_at = utcnow() - timedelta(minutes=2)
    session.add(row)
    session.commit()
    assert repo.redeem_signin_handoff(session=session, handoff=code, idle_minutes=IDLE) is None


def test_sign_out_ends_it(session: Session, clinician: Account) -> None:
    signin_id, token = _token(session, clinician)
    repo.end_signin_session(session=session, signin_id=signin_id)
    assert repo.resume_signin_session(session=session, token=token, idle_minutes=IDLE) is None
    assert repo.touch_signin_session(session=session, signin_id=signin_id) is False
    other_id, other = _token(session, clinician)
    repo.end_signin_by_token(session=session, token=other)
    assert repo.resume_signin_session(session=session, token=other, idle_minutes=IDLE) is None


def test_the_session_timeout_ends_it(session: Session, clinician: Account) -> None:
    signin_id, token = _token(session, clinician)
    row = session.get(SigninSession, signin_id)
    row.last_seen_at = utcnow() - timedelta(minutes=IDLE + 1)
    session.add(row)
    session.commit()
    assert repo.resume_signin_session(session=session, token=token, idle_minutes=IDLE) is None
    session.refresh(row)
    assert row.ended_at is not None  # and it stays ended


def test_a_new_password_or_deactivation_ends_every_sign_in(session: Session, clinician: Account,
                                                            admin: Account) -> None:
    first = _token(session, clinician)
    second = _token(session, clinician)
    assert repo.change_password(session=session, actor=clinician, old_password=PASSWORD,
                                new_password="a new correct horse")
    for signin_id, token in (first, second):
        assert repo.resume_signin_session(session=session, token=token, idle_minutes=IDLE) is None
        assert repo.touch_signin_session(session=session, signin_id=signin_id) is False
    by_admin = _token(session, clinician)
    repo.update_account(session=session, actor=admin, account_id=clinician.id, password="reset by admin 1")
    assert repo.resume_signin_session(session=session, token=by_admin[1], idle_minutes=IDLE) is None
    deactivated = _token(session, clinician)
    repo.update_account(session=session, actor=admin, account_id=clinician.id, is_active=False)
    assert repo.resume_signin_session(session=session, token=deactivated[1], idle_minutes=IDLE) is None
    assert session.exec(select(SigninSession).where(SigninSession.ended_at.is_(None))).all() == []
