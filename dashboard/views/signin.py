"""Sign in; on the very first start (no account yet), create the first administrator instead.

There is no default password: the person installing the product chooses the first one.
"""
from __future__ import annotations

import streamlit as st

from core.types import Role
from dashboard import state
from db.models import AccountCreate
from db.repository import authenticate, count_accounts, create_account

LOGIN_FAILED = (
    "Wrong user name or password. After repeated failures the account is locked for "
    "{minutes} minutes."
)


def first_administrator_form() -> None:
    st.subheader("Create the first administrator")
    st.write(
        "No account exists yet. The account created here manages every other account; "
        "choose a password only you know."
    )
    with st.form("first_admin"):
        username = st.text_input("User name")
        full_name = st.text_input("Full name")
        password = st.text_input("Password", type="password")
        repeated = st.text_input("Repeat the password", type="password")
        submitted = st.form_submit_button("Create administrator", type="primary")
    if not submitted:
        return
    username = username.strip()
    problem = None if username else "Enter a user name."
    problem = problem or state.password_problem(password, repeated)
    if problem:
        st.error(problem)
        return
    with state.db_session() as session:
        # Checked again at submit time: another browser may have created it meanwhile.
        if count_accounts(session=session) > 0:
            st.error("An administrator already exists; sign in instead.")
            return
        try:
            account = create_account(
                session=session,
                data=AccountCreate(
                    username=username,
                    full_name=full_name.strip() or username,
                    password=password,
                    role=Role.ADMIN.value,
                    team=None,
                ),
            )
        except ValueError as error:
            st.error(state.error_message(error))
            return
        account_id = account.id
    state.sign_in_browser(account_id)  # kept across page reloads (an HttpOnly cookie)
    st.rerun()


def login_form() -> None:
    settings = state.get_settings()
    with st.form("signin"):
        username = st.text_input("User name")
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if not submitted:
        return
    with state.db_session() as session:
        account = authenticate(
            session=session,
            username=username.strip(),
            password=password,
            max_failed=settings.max_failed_logins,
            lockout_minutes=settings.lockout_minutes,
        )
        account_id = account.id if account is not None else None
    if account_id is None:
        # One message for every failure, so it does not reveal which user names exist.
        st.error(LOGIN_FAILED.format(minutes=settings.lockout_minutes))
        return
    state.sign_in_browser(account_id)  # kept across page reloads (an HttpOnly cookie)
    st.rerun()


st.title("Acne tracker")
reason = st.session_state.pop("signed_out_reason", None)
if reason:
    st.info(reason)
with state.db_session() as session:
    has_accounts = count_accounts(session=session) > 0
if has_accounts:
    login_form()
else:
    first_administrator_form()
state.show_notice()
