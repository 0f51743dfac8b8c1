"""Sign-ins kept across page reloads (issue 26: F5 signed the user out).

A sign-in is a row (db.models.SigninSession) and, in the browser, an HttpOnly cookie holding a
random token whose SHA-256 only is stored. The page never sees the token: at sign-in it gets a
one-time code (valid for a minute) that the app's own address (dashboard/signin_routes.py)
exchanges for the cookie. A reload sends the cookie; `resume` signs the new page session in
while the sign-in is open: not signed out, used within the session timeout
(`ACNE_SESSION_MINUTES`), the account active and its password unchanged since (a new password,
or deactivation, ends every sign-in of the account).
"""
from __future__ import annotations

from db.repository import (
    end_signin_by_token,
    end_signin_session,
    redeem_signin_handoff,
    resume_signin_session,
    start_signin_session,
    touch_signin_session,
)
from usecases.clinic import Clinic

COOKIE_NAME = "acne_session"
SIGNIN_PATH = "/_acne/signin"  # POST the one-time code: answers with the cookie
SIGNOUT_PATH = "/_acne/signout"  # POST: ends the cookie's sign-in and deletes the cookie


def begin(clinic: Clinic, account_id: int) -> tuple[int, str]:
    """A new sign-in of the account: (its id, the one-time code for the cookie)."""
    with clinic.session() as session:
        return start_signin_session(session=session, account_id=account_id)


def cookie_token(clinic: Clinic, code: str, idle_minutes: int) -> str | None:
    """The cookie's token for a one-time code, or None (unknown, used, expired, ended)."""
    with clinic.session() as session:
        return redeem_signin_handoff(session=session, handoff=code, idle_minutes=idle_minutes)


def resume(clinic: Clinic, token: str, idle_minutes: int) -> tuple[int, int] | None:
    """(sign-in id, account id) for the cookie's token while its sign-in is open, else None."""
    with clinic.session() as session:
        return resume_signin_session(session=session, token=token, idle_minutes=idle_minutes)


def still_open(clinic: Clinic, signin_id: int) -> bool:
    """Mark the sign-in as used now; False when it has ended meanwhile."""
    with clinic.session() as session:
        return touch_signin_session(session=session, signin_id=signin_id)


def end(clinic: Clinic, signin_id: int) -> None:
    """Sign-out or timeout: the cookie no longer signs anyone in."""
    with clinic.session() as session:
        end_signin_session(session=session, signin_id=signin_id)


def end_by_cookie(clinic: Clinic, token: str) -> None:
    """Sign-out by the cookie's token (the sign-out address)."""
    with clinic.session() as session:
        end_signin_by_token(session=session, token=token)
