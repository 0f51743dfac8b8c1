"""Audit trail (administrators only): the latest events, newest first."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.audit_words import Names, detail_in_words, ids_in
from core.types import Right
from core.words import words
from dashboard import display, state
from db.repository import audit_names, list_accounts, list_audit

actor = state.require_actor(Right.ADMINISTER)
st.title("Audit trail")
limit = st.selectbox("Events to show", (50, 200, 1000), index=1, key="audit_limit")
with state.db_session() as session:
    events = list_audit(session=session, actor=actor, limit=limit)
    names = {a.id: a.username for a in list_accounts(session=session)}
    # Ids in the details and targets, named in words (issue 26): patients by code and name,
    # studies by name, visits and photos by patient and date.
    wanted: dict[str, set[int]] = {}
    for e in events:
        for kind, found in ids_in(e.detail).items():
            wanted.setdefault(kind, set()).update(found)
        if e.target_id is not None:
            wanted.setdefault(e.target_type, set()).add(e.target_id)
    rows_named = Names(audit_names(session=session, actor=actor, ids=wanted))
    rows = [
        {
            "at (UTC)": e.at,
            "account": names.get(e.account_id, "—" if e.account_id is None else "no longer stored"),
            "action": words(e.action),
            "target": "—" if not e.target_type else (
                rows_named.of(e.target_type, e.target_id) if e.target_id is not None
                else words(e.target_type)),
            "detail": detail_in_words(e.detail, rows_named),
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
        "detail": display.text("Detail"),
    })
