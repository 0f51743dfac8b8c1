"""Entry point: `streamlit run dashboard/app.py`. Sign-in, then navigation by role.

Signed out, only the sign-in page exists (so no page URL can be reached without an account);
signed in, each role sees only the pages it may use, and every page checks the role again.
"""
from __future__ import annotations

import logging
from pathlib import Path

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx
from sqlalchemy.exc import SQLAlchemyError

from core.types import Right, role_may
from dashboard import display, state

VIEWS = Path(__file__).resolve().parent / "views"
log = logging.getLogger("dashboard")

# (file name, title, icon, the right a role needs to see it: core.types.ROLE_RIGHTS)
PAGES: tuple[tuple[str, str, str, Right], ...] = (
    ("patients", "Patients", ":material/groups:", Right.READ),
    ("new_visit", "New visit", ":material/add_a_photo:", Right.RECORD),
    ("visit", "Visit", ":material/photo_library:", Right.READ),
    ("trends", "Trends", ":material/monitoring:", Right.READ),
    ("compare", "Compare visits", ":material/compare:", Right.READ),
    ("review", "Review queue", ":material/fact_check:", Right.RECORD),
    ("studies", "Studies", ":material/science:", Right.READ),
    ("reports", "Reports", ":material/picture_as_pdf:", Right.READ),
    ("models", "Models", ":material/memory:", Right.READ),
    ("accounts", "Accounts", ":material/manage_accounts:", Right.ADMINISTER),
    ("audit", "Audit trail", ":material/policy:", Right.ADMINISTER),
)

SECTIONS: dict[str, tuple[str, ...]] = {
    "Patients": ("patients", "new_visit", "visit", "trends", "compare"),
    "Clinic and research": ("review", "studies", "reports"),
    "Administration": ("models", "accounts", "audit"),
}


def pages_for(role: str) -> dict[str, list[st.Page]]:
    """The navigation sections with the pages this role may open (Patients first, the default)."""
    visible = {name: (title, icon) for name, title, icon, right in PAGES if role_may(role, right)}
    missing = [name for name in visible if not (VIEWS / f"{name}.py").is_file()]
    if missing:
        # One missing page file must not take the whole app down; say so in the log.
        log.warning("page files missing from %s: %s", VIEWS, ", ".join(missing))
        for name in missing:
            del visible[name]
    sections: dict[str, list[st.Page]] = {}
    for section, names in SECTIONS.items():
        section_pages = [
            st.Page(
                VIEWS / f"{name}.py",
                title=visible[name][0],
                icon=visible[name][1],
                url_path=name,
                default=name == "patients",
            )
            for name in names
            if name in visible
        ]
        if section_pages:
            sections[section] = section_pages
    return sections


def sidebar(actor) -> None:  # noqa: ANN001 - db.models.Account, imported lazily
    with st.sidebar:
        team = f", team {actor.team}" if actor.team else ""
        # Names and teams are typed by people: shown as plain text (display.plain).
        st.markdown(f"Signed in as **{display.plain(actor.full_name or actor.username)}** "
                    f"({actor.role}{display.plain(team)})")
        st.button("Sign out", on_click=state.sign_out, icon=":material/logout:", key="sign_out")
        state.show_notice()


# The tab icon is a file of the app: a ":material/...:" icon would be fetched from Google's
# font servers by the browser, and nothing may leave the machine.
ICON = Path(__file__).resolve().parent / "assets" / "icon.png"


def run_pages() -> None:
    """The signed-in account's navigation (or the sign-in page), and the page chosen."""
    actor = state.current_actor()  # a reload is signed in again from the sign-in cookie
    if actor is None:
        # Every page's address opens the sign-in page, and keeps its address (with ?patient=
        # and ?visit=): signed in, the same address opens that page (issue 26: a bookmark said
        # "Page not found"). The page itself checks the account's rights as always.
        signin = [st.Page(VIEWS / "signin.py", title="Sign in", icon=":material/login:",
                          url_path=name, default=name == "signin")
                  for name in ("signin", *(page[0] for page in PAGES))]
        navigation = st.navigation(signin, position="hidden")
    else:
        navigation = st.navigation(pages_for(actor.role))
        sidebar(actor)
    state.send_cookie_scripts()  # after sign-in: the HttpOnly cookie; after sign-out: its end
    navigation.run()


def main() -> None:
    """The page script, run by Streamlit for every page run of every browser session."""
    st.set_page_config(page_title="Acne tracker", page_icon=str(ICON), layout="wide")

    problem = state.settings_problem()
    if problem is not None:
        # A bad setting or an unreachable database: one sentence naming the variable, no traceback.
        st.error(f"The app cannot start: {problem}")
        st.stop()
    state.start_model_loading()  # in the background, while the user signs in
    try:
        run_pages()
    except (SQLAlchemyError, OSError) as error:
        # The database or the disk failed under a page (a full disk, a database file replaced):
        # one sentence, never a traceback (issue 24). Streamlit's own stop and rerun pass through.
        log.error("a page stopped on %s", type(error).__name__)
        st.error(f"The page cannot go on: {state.storage_problem(error)}")


if get_script_run_ctx(suppress_warning=True) is None:
    # Imported, not run as a page: `streamlit run dashboard/app.py` first reads this file for a
    # server (st.App) and serves this same file as the app, beside the sign-in cookie's two
    # addresses (dashboard/signin_routes.py: an HttpOnly cookie can only come from the server).
    from dashboard.signin_routes import ROUTES

    app = st.App(__file__, routes=ROUTES)
else:
    main()
