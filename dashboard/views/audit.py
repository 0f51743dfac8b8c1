"""Audit trail (administrators only): the latest events, newest first."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.types import Right
from core.words import plain_text, words
from dashboard import display, state
from db.repository import list_accounts, list_audit

actor = state.require_actor(Right.ADMINISTER)
st.title("Audit trail")
limit = st.selectbox("Events to show", (50, 200, 1000), index=1, key="audit_limit")
with state.db_session() as session:
    events = list_audit(session=session, actor=actor, limit=limit)
    names = {a.id: a.username for a in list_accounts(session=session)}
    rows = [
        {
            "at (UTC)": e.at,
            "account": names.get(e.account_id, "—" if e.account_id is None else f"#{e.account_id}"),
            "action": words(e.action),
            "target": words(e.target_type, missing="—"),
            "target id": e.target_id,
            "detail": plain_text(e.detail),
        }
        for e in events
    ]
if not rows:
    st.info("No audit event yet.")
else:
    actions = sorted({row["action"] for row in rows})
    shown = st.multiselect("Actions", actions, default=actions, key="audit_actions")
    table = pd.DataFrame([row for row in rows if row["action"] in shown])
    display.show_table(table, {
        "at (UTC)": display.moment("When (UTC)"), "account": display.text("Account"),
        "action": display.text("Action"), "target": display.text("Target"),
        "target id": display.count("Target number"), "detail": display.text("Detail"),
    })
