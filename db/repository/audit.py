"""The audit trail: who viewed, changed, exported or signed in, and when."""
from __future__ import annotations

from sqlmodel import Session, col, select

from db.access import load_principal
from db.errors import PermissionDenied
from db.models import Account, AuditEvent
from db.repository._common import add_audit, write_transaction


def record_audit(
    *,
    session: Session,
    actor_id: int | None,
    action: str,
    target_type: str,
    target_id: int | None = None,
    detail: str = "",
) -> AuditEvent:
    """Write one audit row now (for views and exports; changes are audited by the repository).

    `detail` must not hold photo bytes or patient names: use ids and pseudonymous codes.
    """
    with write_transaction(session):
        event = add_audit(
            session,
            actor_id=actor_id,
            action=action,
            target_type=target_type,
            target_id=target_id,
            detail=detail,
        )
    return event


def list_audit(*, session: Session, actor: Account, limit: int = 200) -> list[AuditEvent]:
    """The newest audit rows first (admins only: raises PermissionDenied for others)."""
    if limit < 1:
        raise ValueError(f"limit {limit!r} must be at least 1")
    principal = load_principal(session, actor)
    if not principal.is_admin:
        raise PermissionDenied(f"account {principal.id} is not an admin: the audit log is closed")
    statement = (
        select(AuditEvent).order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc()).limit(limit)
    )
    return list(session.exec(statement).all())
