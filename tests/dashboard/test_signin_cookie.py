"""Issue 26 item 7 on the pages (AppTest; the real browser in tests/e2e/test_signin_reload.py):
signing in starts a sign-in row and has the browser fetch the HttpOnly cookie once with a
one-time code; signing out ends the row and has the browser delete the cookie."""
from __future__ import annotations

from sqlmodel import select

from tests.dashboard.test_signin import sign_in


def _scripts(at) -> list[str]:  # noqa: ANN001 - an AppTest
    return [str(element.proto.body) for element in at.get("html")]


def test_signing_in_sends_the_cookie_code_once_and_signing_out_ends_it(dash) -> None:  # noqa: ANN001
    from db.models import SigninSession
    from usecases.signins import SIGNIN_PATH, SIGNOUT_PATH

    dash.make_account("root", role="admin")
    carol = dash.make_account("carol", role="clinician")
    at = sign_in(dash, dash.app().run(), "carol", dash.PASSWORD)
    assert not at.exception and at.session_state["account_id"] == carol
    with dash.env.session() as session:
        (row,) = session.exec(select(SigninSession)).all()
    assert row.account_id == carol and row.ended_at is None and row.handoff_sha256
    sent = [s for s in _scripts(at) if SIGNIN_PATH in s]
    assert len(sent) == 1 and "HttpOnly" not in sent[0]
    at.run()
    assert not [s for s in _scripts(at) if SIGNIN_PATH in s]  # once only

    dash.widget(at.button, "Sign out").click().run()
    assert "account_id" not in at.session_state
    assert [s for s in _scripts(at) if SIGNOUT_PATH in s]
    with dash.env.session() as session:
        assert session.get(SigninSession, row.id).ended_at is not None
