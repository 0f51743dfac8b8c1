"""Entry point: `streamlit run dashboard/app.py`. Sign-in, then navigation by role.

Signed out, only the sign-in page exists (so no page URL can be reached without an account);
signed in, each role sees only the pages it may use, and every page checks the role again.
"""
from __future__ import annotations

import logging
from pathlib import Path

import streamlit as st

from core.types import Right, role_may
from dashboard import state

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
        st.markdown(f"Signed in as **{actor.full_name or actor.username}** ({actor.role}{team})")
        st.button("Sign out", on_click=state.sign_out, icon=":material/logout:", key="sign_out")
        state.show_notice()


# The tab icon is a file of the app: a ":material/...:" icon would be fetched from Google's
# font servers by the browser, and nothing may leave the machine.
ICON = Path(__file__).resolve().parent / "assets" / "icon.png"
st.set_page_config(page_title="Acne tracker", page_icon=str(ICON), layout="wide")

problem = state.settings_problem()
if problem is not None:
    # A bad setting or an unreachable database: one sentence naming the variable, no traceback.
    st.error(f"The app cannot start: {problem}")
    st.stop()
state.start_model_loading()  # in the background, while the user signs in

actor = state.current_actor()
if actor is None:
    signin = st.Page(VIEWS / "signin.py", title="Sign in", icon=":material/login:", url_path="signin")
    navigation = st.navigation([signin], position="hidden")
else:
    navigation = st.navigation(pages_for(actor.role))
    sidebar(actor)
navigation.run()
