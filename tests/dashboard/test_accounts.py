"""Accounts page: administrators create, change, deactivate and reset; nobody else gets in."""
from __future__ import annotations


NEW_PASSWORD = "another long password"


def authenticate(dash, username: str, password: str):  # noqa: ANN001, ANN201
    from db.repository import authenticate as repo_authenticate

    with dash.env.session() as session:
        return repo_authenticate(session=session, username=username, password=password)


def test_admin_creates_an_account_with_role_and_team(dash):
    admin = dash.make_account("alice", role="admin")
    at = dash.open_page(admin, "accounts")
    assert not at.exception
    dash.widget(at.text_input, "User name").input("bob")
    dash.widget(at.text_input, "Full name", form="new_account").input("Bob Smith")
    dash.widget(at.selectbox, "Role", form="new_account").set_value("clinician")
    dash.widget(at.text_input, "Team (clinicians of one team share their patients)").input("north")
    dash.widget(at.text_input, "Initial password").input(NEW_PASSWORD)
    dash.widget(at.text_input, "Repeat the password").input(NEW_PASSWORD)
    dash.widget(at.button, "Create account").click().run()

    assert not at.exception
    assert "Account 'bob' created." in dash.texts(at.success)
    bob = authenticate(dash, "bob", NEW_PASSWORD)
    assert (bob.role, bob.team, bob.full_name) == ("clinician", "north", "Bob Smith")
    table = at.dataframe[0].value
    assert sorted(table["user name"]) == ["alice", "bob"]


def test_duplicate_user_name_is_refused_with_a_message(dash):
    admin = dash.make_account("alice", role="admin")
    at = dash.open_page(admin, "accounts")
    dash.widget(at.text_input, "User name").input("alice")
    dash.widget(at.text_input, "Initial password").input(NEW_PASSWORD)
    dash.widget(at.text_input, "Repeat the password").input(NEW_PASSWORD)
    dash.widget(at.button, "Create account").click().run()
    assert "already taken" in at.error[0].value


def test_admin_deactivates_an_account_and_resets_a_password(dash):
    admin = dash.make_account("alice", role="admin")
    bob = dash.make_account("bob", role="clinician")
    at = dash.open_page(admin, "accounts")
    dash.widget(at.selectbox, "Account").set_value(bob).run()
    dash.widget(at.checkbox, "Active (may sign in)").uncheck()
    dash.widget(at.text_input, "New password (leave empty to keep)").input(NEW_PASSWORD)
    dash.widget(at.text_input, "Repeat the new password").input(NEW_PASSWORD)
    dash.widget(at.button, "Save changes").click().run()

    assert not at.exception
    assert "Account 'bob' updated." in dash.texts(at.success)
    assert dash.get_account(bob).is_active is False
    assert authenticate(dash, "bob", NEW_PASSWORD) is None  # inactive: refused

    at = dash.open_page(admin, "accounts")
    dash.widget(at.selectbox, "Account").set_value(bob).run()
    dash.widget(at.checkbox, "Active (may sign in)").check()
    dash.widget(at.button, "Save changes").click().run()
    assert authenticate(dash, "bob", NEW_PASSWORD) is not None


def test_admin_cannot_deactivate_themself(dash):
    admin = dash.make_account("alice", role="admin")
    at = dash.open_page(admin, "accounts")
    dash.widget(at.selectbox, "Account").set_value(admin).run()
    dash.widget(at.checkbox, "Active (may sign in)").uncheck()
    dash.widget(at.button, "Save changes").click().run()
    assert "cannot deactivate your own account" in at.error[0].value
    assert dash.get_account(admin).is_active is True


def test_a_clinician_running_the_accounts_page_directly_is_stopped(dash):
    dash.make_account("alice", role="admin")
    clinician = dash.make_account("bob", role="clinician")
    # The page is not in a clinician's navigation; it also checks the role itself.
    at = dash.page_alone("accounts", clinician)
    assert not at.exception
    assert "This page is not available to the clinician role." in dash.texts(at.info)
    assert not at.text_input and not at.dataframe
