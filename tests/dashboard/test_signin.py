"""Sign-in: right and wrong passwords, the lockout after repeated failures, the audit trail."""
from __future__ import annotations



def sign_in(dash, at, username: str, password: str):  # noqa: ANN001, ANN201
    dash.widget(at.text_input, "User name").input(username)
    dash.widget(at.text_input, "Password").input(password)
    return dash.widget(at.button, "Sign in").click().run()


def audit_actions(dash) -> list[str]:  # noqa: ANN001
    from sqlmodel import select

    from db.models import AuditEvent

    with dash.env.session() as session:
        return [e.action for e in session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()]


def test_right_password_signs_in_and_is_audited(dash):
    dash.make_account("root", role="admin")
    account = dash.make_account("carol", role="clinician")
    at = sign_in(dash, dash.app().run(), "carol", dash.PASSWORD)
    assert not at.exception
    assert at.session_state["account_id"] == account
    assert [t.value for t in at.title] == ["Patients"]
    assert audit_actions(dash)[-1] == "login"


def test_wrong_password_is_refused_with_one_message_for_all_failures(dash):
    dash.make_account("root", role="admin")
    dash.make_account("carol", role="clinician")
    at = sign_in(dash, dash.app().run(), "carol", "not the password")
    assert "account_id" not in at.session_state
    wrong_password = at.error[0].value
    at = sign_in(dash, at, "nobody", "not the password")
    # An unknown user name reads the same, so names cannot be probed.
    assert at.error[0].value == wrong_password
    assert audit_actions(dash)[-2:] == ["login_failed", "login_failed"]


def test_repeated_failures_lock_the_account_even_for_the_right_password(dash, monkeypatch):
    monkeypatch.setenv("ACNE_MAX_FAILED_LOGINS", "2")
    dash.make_account("root", role="admin")
    carol = dash.make_account("carol", role="clinician")
    at = dash.app().run()
    for _ in range(2):
        at = sign_in(dash, at, "carol", "not the password")
    at = sign_in(dash, at, "carol", dash.PASSWORD)
    assert "account_id" not in at.session_state
    assert "locked" in at.error[0].value
    assert dash.get_account(carol).locked_until is not None


def test_a_signed_in_session_does_not_keep_a_previous_users_state(dash):
    dash.make_account("root", role="admin")
    dash.make_account("carol", role="clinician")
    at = dash.app()
    at.session_state["patient_id"] = 99  # left over from an earlier user of this browser tab
    at.run()
    at = sign_in(dash, at, "carol", dash.PASSWORD)
    assert "patient_id" not in at.session_state
