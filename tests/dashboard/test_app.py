"""The app shell: first start, navigation by role, sidebar, sign-out and session expiry."""
from __future__ import annotations

import time

import pytest

from dashboard.state import NOT_A_DIAGNOSIS

PASSWORD = "a long first password"


def test_first_start_creates_the_first_administrator_and_signs_in(dash):
    at = dash.app().run()
    assert not at.exception
    assert "Create the first administrator" in dash.page_text(at)
    # No default password is offered anywhere.
    assert all(box.value == "" for box in at.text_input)

    dash.widget(at.text_input, "User name").input("alice")
    dash.widget(at.text_input, "Full name").input("Alice Admin")
    dash.widget(at.text_input, "Password").input(PASSWORD)
    dash.widget(at.text_input, "Repeat the password").input(PASSWORD)
    dash.widget(at.button, "Create administrator").click().run()

    assert not at.exception
    account = dash.get_account(at.session_state["account_id"])
    assert (account.username, account.role, account.is_active) == ("alice", "admin", True)
    assert [t.value for t in at.title] == ["Patients"]
    assert "Signed in as **Alice Admin** (admin)" in dash.texts(at.sidebar.markdown)


def test_first_administrator_form_refuses_short_or_mismatched_passwords(dash):
    at = dash.app().run()
    dash.widget(at.text_input, "User name").input("alice")
    dash.widget(at.text_input, "Password").input("short")
    dash.widget(at.text_input, "Repeat the password").input("short")
    dash.widget(at.button, "Create administrator").click().run()
    assert "at least" in at.error[0].value

    dash.widget(at.text_input, "Password").input(PASSWORD)
    dash.widget(at.text_input, "Repeat the password").input(PASSWORD + "x")
    dash.widget(at.button, "Create administrator").click().run()
    assert at.error[0].value == "The two passwords differ."
    assert "account_id" not in at.session_state
    with dash.env.session() as session:
        from db.repository import count_accounts

        assert count_accounts(session=session) == 0


def test_once_an_account_exists_only_the_sign_in_form_is_shown(dash):
    dash.make_account("alice", role="admin")
    at = dash.app().run()
    assert "Create the first administrator" not in dash.page_text(at)
    assert [b.label for b in at.button] == ["Sign in"]
    # Signed out, no other page is routable.
    with pytest.raises(ValueError):
        at.switch_page("views/patients.py")


@pytest.mark.parametrize(
    ("role", "hidden", "shown"),
    [
        ("admin", [], ["accounts", "audit", "new_visit", "models"]),
        ("clinician", ["accounts", "audit"], ["new_visit", "visit", "patients", "models"]),
        ("researcher", ["accounts", "audit", "new_visit"], ["patients", "visit", "models"]),
    ],
)
def test_navigation_shows_each_role_only_its_pages(dash, role, hidden, shown):
    admin = dash.make_account("root", role="admin")
    account = admin if role == "admin" else dash.make_account("someone", role=role)
    at = dash.app(account).run()
    assert not at.exception
    for page in hidden:
        with pytest.raises(ValueError):
            at.switch_page(f"views/{page}.py")
    for page in shown:
        at.switch_page(f"views/{page}.py")  # registered: does not raise


def test_sidebar_shows_the_notice_and_sign_out_clears_the_session(dash):
    admin = dash.make_account("alice", role="admin")
    at = dash.app(admin).run()
    assert any(NOT_A_DIAGNOSIS in caption for caption in dash.texts(at.sidebar.caption))
    at.session_state["patient_id"] = 123
    dash.widget(at.sidebar.button, "Sign out").click().run()
    assert "account_id" not in at.session_state
    assert "patient_id" not in at.session_state
    assert [b.label for b in at.button] == ["Sign in"]


def test_inactive_session_expires(dash, monkeypatch):
    monkeypatch.setenv("ACNE_SESSION_MINUTES", "5")
    admin = dash.make_account("alice", role="admin")
    at = dash.app(admin)
    at.session_state["last_activity"] = time.time() - 6 * 60
    at.run()
    assert "account_id" not in at.session_state
    assert "Your session expired; please sign in again." in dash.texts(at.info)


def test_a_deactivated_account_is_signed_out_at_its_next_click(dash):
    admin = dash.make_account("alice", role="admin")
    clinician = dash.make_account("bob", role="clinician")
    at = dash.app(clinician).run()
    assert [t.value for t in at.title] == ["Patients"]
    from db.repository import update_account

    with dash.env.session() as session:
        update_account(session=session, actor=dash.get_account(admin), account_id=clinician,
                       is_active=False)
    at.run()
    assert "account_id" not in at.session_state
    assert [b.label for b in at.button] == ["Sign in"]


def test_a_photo_folder_of_another_database_stops_the_app_with_one_sentence(
    dash, tmp_path, monkeypatch, databases
):
    # Issue 24: a mistyped DATABASE_URL beside the clinic's data folder used to start normally
    # (and the start-up check then deleted the photos as orphans).
    at = dash.app().run()
    assert "Create the first administrator" in dash.page_text(at)  # the clinic binds its folder
    other = databases.new(tmp_path / "other")
    monkeypatch.setenv("DATABASE_URL", other)
    import streamlit as st

    st.cache_resource.clear()
    at = dash.app().run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "belongs to another database" in errors[0]
    assert "ACNE_DATA_DIR and DATABASE_URL" in errors[0]
    databases.drop(other)
