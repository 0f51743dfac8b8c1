"""Accounts: creation, bcrypt passwords, sign-in with lockout, and admin changes."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone
from functools import lru_cache

import bcrypt
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.types import Role
from db.access import load_principal
from db.errors import DuplicateError, PermissionDenied
from db.models import (
    MAX_PASSWORD_BYTES,
    MAX_NAME_LENGTH,
    Account,
    AccountCreate,
    SigninSession,
    check_password,
    check_role,
    check_team,
    utcnow,
)
from db.repository._common import (
    UNSET,
    add_audit,
    check_text_length,
    get_or_raise,
    write_transaction,
)

# bcrypt work factor: 12 takes about 0.25 s per check, slow enough to blunt guessing.
BCRYPT_ROUNDS = 12


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds=BCRYPT_ROUNDS)).decode()


def verify_password(password: str, password_hash: str) -> bool:
    encoded = password.encode("utf-8")
    if len(encoded) > MAX_PASSWORD_BYTES:
        return False  # never stored: bcrypt refuses such passwords
    return bcrypt.checkpw(encoded, password_hash.encode("ascii"))


@lru_cache(maxsize=4)
def _dummy_hash(rounds: int) -> str:
    return bcrypt.hashpw(b"not-a-real-password", bcrypt.gensalt(rounds=rounds)).decode()


def count_accounts(*, session: Session) -> int:
    return int(session.exec(select(func.count()).select_from(Account)).one())


def get_account(*, session: Session, account_id: int) -> Account | None:
    return session.get(Account, account_id)


def get_account_by_username(*, session: Session, username: str) -> Account | None:
    return session.exec(select(Account).where(Account.username == username.strip())).one_or_none()


def list_accounts(*, session: Session, role: str | None = None) -> list[Account]:
    statement = select(Account).order_by(col(Account.username))
    if role is not None:
        statement = statement.where(Account.role == check_role(role))
    return list(session.exec(statement).all())


def create_account(
    *, session: Session, data: AccountCreate, actor: Account | None = None
) -> Account:
    """Create an account with a bcrypt-hashed password.

    The very first account must be an admin (someone has to manage the others). When `actor`
    is given it must be an admin; `actor=None` is for trusted callers (first-run setup, CLI).
    """
    data = AccountCreate.model_validate(data.model_dump())  # re-validate edited objects
    with write_transaction(session):
        actor_id = None
        if actor is not None:
            principal = load_principal(session, actor)
            if not principal.is_admin:
                raise PermissionDenied(f"account {principal.id} is not an admin: cannot add accounts")
            actor_id = principal.id
        if count_accounts(session=session) == 0 and data.role != Role.ADMIN:
            raise ValueError(f"the first account must be an admin, not a {data.role}")
        if get_account_by_username(session=session, username=data.username) is not None:
            raise DuplicateError(f"username {data.username!r} is already taken")
        account = Account(
            **data.model_dump(exclude={"password"}), password_hash=hash_password(data.password)
        )
        session.add(account)
        try:
            session.flush()
        except IntegrityError:
            raise DuplicateError(f"username {data.username!r} is already taken") from None
        add_audit(
            session,
            actor_id=actor_id if actor_id is not None else account.id,
            action="create",
            target_type="account",
            target_id=account.id,
            detail=f"role={account.role} team={account.team}",
        )
    return account


def authenticate(
    *,
    session: Session,
    username: str,
    password: str,
    max_failed: int = 5,
    lockout_minutes: int = 15,
) -> Account | None:
    """The account when the password is right, else None; audited as login / login_failed.

    After `max_failed` wrong passwords in a row the account is locked for `lockout_minutes`;
    while locked even the right password is refused.
    """
    if max_failed < 1 or lockout_minutes < 1:
        raise ValueError(
            f"max_failed ({max_failed!r}) and lockout_minutes ({lockout_minutes!r}) must be >= 1"
        )
    account = get_account_by_username(session=session, username=username)
    # Check the password before taking the write lock: bcrypt is slow on purpose. Unknown
    # users cost the same time, so timing does not reveal which usernames exist.
    stored_hash = account.password_hash if account is not None else _dummy_hash(BCRYPT_ROUNDS)
    password_ok = verify_password(password, stored_hash) and account is not None
    now = utcnow()
    with write_transaction(session):
        if account is None:
            add_audit(
                session, actor_id=None, action="login_failed", target_type="account",
                detail=f"unknown username {username.strip()[:64]!r}",
            )
            return None
        session.refresh(account)  # counters as they are now, under the write lock
        reason = None
        if not account.is_active:
            reason = "account deactivated"
        elif account.locked_until is not None and account.locked_until > now:
            reason = f"account locked until {account.locked_until.isoformat(timespec='seconds')}"
        elif not password_ok:
            account.failed_logins += 1
            reason = f"wrong password ({account.failed_logins} in a row)"
            if account.failed_logins >= max_failed:
                account.locked_until = now + timedelta(minutes=lockout_minutes)
                account.failed_logins = 0
                reason += f"; locked for {lockout_minutes} minutes"
        if reason is not None:
            add_audit(
                session, actor_id=account.id, action="login_failed", target_type="account",
                target_id=account.id, detail=reason,
            )
            return None
        account.failed_logins = 0
        account.locked_until = None
        add_audit(
            session, actor_id=account.id, action="login", target_type="account",
            target_id=account.id,
        )
    return account


def _active_admins(session: Session) -> int:
    statement = select(func.count()).select_from(Account).where(
        Account.role == Role.ADMIN.value, col(Account.is_active).is_(True)
    )
    return int(session.exec(statement).one())


def update_account(
    *,
    session: Session,
    actor: Account,
    account_id: int,
    role: str = UNSET,
    team: str | None = UNSET,
    is_active: bool = UNSET,
    password: str = UNSET,
    full_name: str = UNSET,
    unlock: bool = False,
) -> Account:
    """Change an account (admins only). A new password or `unlock=True` lifts a lockout.

    Refuses to remove the last active admin.
    """
    with write_transaction(session):
        principal = load_principal(session, actor)
        if not principal.is_admin:
            raise PermissionDenied(f"account {principal.id} is not an admin: cannot change accounts")
        account = get_or_raise(session, Account, account_id)
        was_admin = account.role == Role.ADMIN and account.is_active
        changed: list[str] = []
        if role is not UNSET:
            account.role = check_role(role)
            changed.append(f"role={account.role}")
        if team is not UNSET:
            account.team = check_team(team)
            changed.append(f"team={account.team}")
        if is_active is not UNSET:
            account.is_active = bool(is_active)
            changed.append(f"is_active={account.is_active}")
            if not account.is_active:
                _end_signins(session, account.id)
        if full_name is not UNSET:
            account.full_name = check_text_length("The full name", full_name.strip(), MAX_NAME_LENGTH)
            changed.append("full_name")
        if password is not UNSET:
            account.password_hash = hash_password(check_password(password))
            changed.append("password")
            _end_signins(session, account.id)  # a new password signs every browser out
        if password is not UNSET or unlock:
            account.failed_logins = 0
            account.locked_until = None
            changed.append("unlocked")
        session.flush()
        if was_admin and _active_admins(session) == 0:
            raise ValueError(f"account {account.username!r} is the last active admin")
        add_audit(
            session, actor_id=principal.id, action="update", target_type="account",
            target_id=account.id, detail=", ".join(changed),
        )
    return account


def change_password(
    *, session: Session, actor: Account, old_password: str, new_password: str
) -> bool:
    """Let an account change its own password; False when the old password is wrong."""
    account = get_or_raise(session, Account, actor.id)
    if not verify_password(old_password, account.password_hash):
        return False
    new_hash = hash_password(check_password(new_password))
    with write_transaction(session):
        session.refresh(account)
        account.password_hash = new_hash
        _end_signins(session, account.id)  # a new password signs every browser out
        add_audit(
            session, actor_id=account.id, action="update", target_type="account",
            target_id=account.id, detail="own password",
        )
    return True


# ------------------------------------------------------------- sign-ins kept across page reloads
HANDOFF_SECONDS = 60  # how long the one-time code that sets the cookie can be used


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _end_signins(session: Session, account_id: int | None) -> None:
    """End every open sign-in of the account (in the caller's transaction)."""
    now = utcnow()
    for row in session.exec(select(SigninSession).where(
            SigninSession.account_id == account_id, col(SigninSession.ended_at).is_(None))).all():
        row.ended_at = now
        row.handoff_sha256 = None
        session.add(row)


def start_signin_session(*, session: Session, account_id: int) -> tuple[int, str]:
    """A new sign-in of the account: (its id, a one-time code that the app's cookie address
    exchanges for the session cookie within HANDOFF_SECONDS). Only hashes are stored."""
    handoff = secrets.token_urlsafe(32)
    with write_transaction(session):
        account = get_or_raise(session, Account, account_id)
        if not account.is_active:
            raise PermissionDenied(f"account {account.username!r} is deactivated")
        row = SigninSession(account_id=account_id, handoff_sha256=_sha256(handoff))
        session.add(row)
        session.flush()
        row_id = int(row.id)
    return row_id, handoff


def redeem_signin_handoff(*, session: Session, handoff: str, idle_minutes: int) -> str | None:
    """The session token for a one-time code, or None when the code is unknown, used, older
    than HANDOFF_SECONDS or its sign-in ended. The code works once."""
    if not handoff or len(handoff) > 200:
        return None
    token = secrets.token_urlsafe(32)
    with write_transaction(session):
        row = session.exec(select(SigninSession).where(
            SigninSession.handoff_sha256 == _sha256(handoff))).one_or_none()
        if row is None:
            return None
        row.handoff_sha256 = None
        now = utcnow()
        fresh = now - _aware(row.created_at) <= timedelta(seconds=HANDOFF_SECONDS)
        if row.ended_at is not None or not fresh or not _open(row, now, idle_minutes):
            session.add(row)
            return None
        row.token_sha256 = _sha256(token)
        row.last_seen_at = now
        session.add(row)
    return token


def _open(row: SigninSession, now: datetime, idle_minutes: int) -> bool:
    return row.ended_at is None and now - _aware(row.last_seen_at) <= timedelta(minutes=idle_minutes)


def resume_signin_session(*, session: Session, token: str, idle_minutes: int) -> tuple[int, int] | None:
    """(sign-in id, account id) for a session cookie's token when that sign-in is still open:
    not ended, used within `idle_minutes`, its account active. Its last use becomes now. An
    idle one is ended. None otherwise."""
    if not token or len(token) > 200:
        return None
    with write_transaction(session):
        found = session.exec(
            select(SigninSession, Account.is_active)
            .join(Account, col(Account.id) == col(SigninSession.account_id))
            .where(SigninSession.token_sha256 == _sha256(token))).one_or_none()
        if found is None:
            return None
        row, active = found
        now = utcnow()
        if not active or not _open(row, now, idle_minutes):
            if row.ended_at is None:
                row.ended_at = now
                session.add(row)
            return None
        row.last_seen_at = now
        session.add(row)
        return int(row.id), int(row.account_id)


def touch_signin_session(*, session: Session, signin_id: int) -> bool:
    """The sign-in was used now (so a reload within the timeout keeps it). False when it has
    ended meanwhile (signed out elsewhere, the password changed, the account deactivated)."""
    with write_transaction(session):
        row = session.get(SigninSession, signin_id)
        if row is None or row.ended_at is not None:
            return False
        row.last_seen_at = utcnow()
        session.add(row)
    return True


def end_signin_by_token(*, session: Session, token: str) -> None:
    """Sign-out from the cookie alone (the app's sign-out address)."""
    if not token or len(token) > 200:
        return
    with write_transaction(session):
        row = session.exec(select(SigninSession).where(
            SigninSession.token_sha256 == _sha256(token))).one_or_none()
        if row is not None and row.ended_at is None:
            row.ended_at = utcnow()
            session.add(row)


def end_signin_session(*, session: Session, signin_id: int) -> None:
    """Sign-out (or a timeout): the cookie of this sign-in no longer signs anyone in."""
    with write_transaction(session):
        row = session.get(SigninSession, signin_id)
        if row is not None and row.ended_at is None:
            row.ended_at = utcnow()
            row.handoff_sha256 = None
            session.add(row)
