"""Entry point: `streamlit run dashboard/app.py`. Sign-in, then navigation by role.

Signed out, only the sign-in page exists (so no page URL can be reached without an account);
signed in, each role sees only the pages it may use, and every page checks the role again.
"""
from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run dashboard/app.py` puts dashboard/ on the path, not the project root.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

import logging  # noqa: E402

import streamlit as st  # noqa: E402

from dashboard import state  # noqa: E402

VIEWS = Path(__file__).resolve().parent / "views"
log = logging.getLogger("dashboard")

# (file name, title, icon, roles that may see it)
PAGES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("patients", "Patients", ":material/groups:", ("admin", "clinician", "researcher")),
    ("new_visit", "New visit", ":material/add_a_photo:", ("admin", "clinician")),
    ("visit", "Visit", ":material/photo_library:", ("admin", "clinician", "researcher")),
    ("trends", "Trends", ":material/monitoring:", ("admin", "clinician", "researcher")),
    ("compare", "Compare visits", ":material/compare:", ("admin", "clinician", "researcher")),
    ("review", "Review queue", ":material/fact_check:", ("admin", "clinician")),
    ("studies", "Studies", ":material/science:", ("admin", "clinician", "researcher")),
    ("reports", "Reports", ":material/picture_as_pdf:", ("admin", "clinician", "researcher")),
    ("models", "Models", ":material/memory:", ("admin", "clinician", "researcher")),
    ("accounts", "Accounts", ":material/manage_accounts:", ("admin",)),
    ("audit", "Audit trail", ":material/policy:", ("admin",)),
)

SECTIONS: dict[str, tuple[str, ...]] = {
    "Patients": ("patients", "new_visit", "visit", "trends", "compare"),
    "Clinic and research": ("review", "studies", "reports"),
    "Administration": ("models", "accounts", "audit"),
}


def pages_for(role: str) -> dict[str, list[st.Page]]:
    """The navigation sections with the pages this role may open (Patients first, the default)."""
    visible = {name: (title, icon) for name, title, icon, roles in PAGES if role in roles}
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


st.set_page_config(page_title="Acne tracker", page_icon=":material/face:", layout="wide")

actor = state.current_actor()
if actor is None:
    signin = st.Page(VIEWS / "signin.py", title="Sign in", icon=":material/login:", url_path="signin")
    navigation = st.navigation([signin], position="hidden")
else:
    navigation = st.navigation(pages_for(actor.role))
    sidebar(actor)
navigation.run()
