"""Audit page: administrators see the latest events; the page stops anyone else."""
from __future__ import annotations


def test_admin_sees_sign_ins_and_changes_newest_first(dash):
    from db.repository import authenticate

    admin = dash.make_account("alice", role="admin")
    dash.make_account("bob", role="clinician")
    with dash.env.session() as session:
        authenticate(session=session, username="bob", password="wrong password")
        authenticate(session=session, username="bob", password=dash.PASSWORD)

    at = dash.open_page(admin, "audit")
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["action"][:2]) == ["login", "login failed"]  # in words, not code names
    assert set(table["action"]) >= {"create", "login", "login failed"}
    assert "bob" in set(table["account"])

    dash.widget(at.multiselect, "Actions").set_value(["login failed"]).run()
    assert set(at.dataframe[0].value["action"]) == {"login failed"}


def test_audit_page_refuses_a_clinician(dash):
    dash.make_account("alice", role="admin")
    clinician = dash.make_account("bob", role="clinician")
    at = dash.page_alone("audit", clinician)
    assert not at.exception
    assert "This page is not available to the clinician role." in dash.texts(at.info)
    assert not at.dataframe
