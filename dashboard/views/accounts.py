"""Accounts (administrators only): create accounts with a role and team, deactivate, reset passwords."""
from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
import streamlit as st

from core.types import Right, Role
from dashboard import display, state
from db.errors import NotFound, PermissionDenied
from db.models import ROLES, AccountCreate
from db.repository import create_account, list_accounts, update_account

ROLE_HELP = (
    "Clinicians see their own patients and their team's; researchers see, read-only, the "
    "patients enrolled in studies they are members of; administrators see everything."
)


def is_locked(account) -> bool:  # noqa: ANN001 - db.models.Account
    return account.locked_until is not None and account.locked_until > datetime.now(timezone.utc)


def accounts_table(accounts) -> pd.DataFrame:  # noqa: ANN001 - list[db.models.Account]
    return pd.DataFrame(
        [
            {
                "user name": a.username,
                "full name": a.full_name,
                "role": a.role,
                "team": a.team or "",
                "active": a.is_active,
                "locked": is_locked(a),
                "created": a.created_at,
            }
            for a in accounts
        ]
    )


def create_form(actor) -> None:  # noqa: ANN001
    st.subheader("New account")
    with st.form("new_account", clear_on_submit=True):
        username = st.text_input("User name")
        full_name = st.text_input("Full name")
        role = st.selectbox("Role", ROLES, index=ROLES.index(Role.CLINICIAN), help=ROLE_HELP)
        team = st.text_input("Team (clinicians of one team share their patients)")
        password = st.text_input("Initial password", type="password")
        repeated = st.text_input("Repeat the password", type="password")
        created = st.form_submit_button("Create account", type="primary")
    if not created:
        return
    problem = None if username.strip() else "Enter a user name."
    problem = problem or state.password_problem(password, repeated)
    if problem:
        st.error(problem)
        return
    try:
        with state.db_session() as session:
            create_account(
                session=session,
                actor=actor,
                data=AccountCreate(
                    username=username.strip(),
                    full_name=full_name.strip() or username.strip(),
                    password=password,
                    role=role,
                    team=team,
                ),
            )
    except (PermissionDenied, ValueError) as error:
        st.error(state.error_message(error))
        return
    state.flash(f"Account {username.strip()!r} created.")
    st.rerun()


def edit_form(actor, accounts) -> None:  # noqa: ANN001
    st.subheader("Change an account")
    by_id = {a.id: a for a in accounts}
    chosen_id = st.selectbox(
        "Account",
        list(by_id),
        format_func=lambda i: f"{by_id[i].username} ({by_id[i].role})",
        key="account_to_edit",
    )
    chosen = by_id[chosen_id]
    with st.form(f"edit_account_{chosen_id}"):
        full_name = st.text_input("Full name", value=chosen.full_name)
        role = st.selectbox("Role", ROLES, index=ROLES.index(chosen.role))
        team = st.text_input("Team", value=chosen.team or "")
        active = st.checkbox("Active (may sign in)", value=chosen.is_active)
        unlock = st.checkbox("Lift the lockout after failed sign-ins", value=False,
                             disabled=not is_locked(chosen))
        password = st.text_input("New password (leave empty to keep)", type="password")
        repeated = st.text_input("Repeat the new password", type="password")
        saved = st.form_submit_button("Save changes")
    if not saved:
        return
    problem = None
    if chosen.id == actor.id and (not active or role != Role.ADMIN):
        # Keeps the signed-in administrator from locking themselves out mid-session.
        problem = "You cannot deactivate your own account or remove your own admin role."
    elif password or repeated:
        problem = state.password_problem(password, repeated)
    if problem:
        st.error(problem)
        return
    changes: dict[str, object] = {
        "full_name": full_name, "role": role, "team": team, "is_active": active, "unlock": unlock,
    }
    if password:
        changes["password"] = password
    try:
        with state.db_session() as session:
            update_account(session=session, actor=actor, account_id=chosen.id, **changes)
    except (PermissionDenied, NotFound, ValueError) as error:
        st.error(state.error_message(error))
        return
    if password and chosen.id == actor.id:
        # A new password ends every sign-in of the account (other browsers, old cookies); this
        # browser, where it was just typed, goes on with a new one.
        state.sign_in_browser(actor.id)
    state.flash(f"Account {chosen.username!r} updated.")
    st.rerun()


actor = state.require_actor(Right.ADMINISTER)
st.title("Accounts")
state.show_flash()

with state.db_session() as session:
    accounts = list_accounts(session=session)
display.show_table(accounts_table(accounts), {
    "user name": display.text("User name"), "full name": display.text("Full name"),
    "role": display.text("Role"), "team": display.text("Team"), "active": display.tick("Active"),
    "locked": display.tick("Locked", help="Locked for a while after repeated failed sign-ins."),
    "created": display.moment("Created (UTC)"),
})
create_form(actor)
edit_form(actor, accounts)
