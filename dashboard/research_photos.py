"""The Studies page's word on photos for researchers: a sentence for everyone (masked, or
identifiable because an administrator allowed it), and for administrators the switch, with the
reason it needs and the switches made so far (usecases.studies)."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import display, state
from db.errors import NotFound, PermissionDenied
from usecases.studies import set_identifiable_photos, study_photos


EVERY_FACE = ("Every face found in a photo is masked, also one lying on its side or upside "
              "down; a photo with a face that cannot be masked with certainty is withheld.")


def show_sentence(actor, study_id: int) -> None:  # noqa: ANN001 - db.models.Account
    """How the study's researchers see photos, in a sentence (two while they are masked)."""
    photos = study_photos(state.get_clinic(), actor, study_id)
    st.caption(photos.sentence if photos.identifiable else f"{photos.sentence} {EVERY_FACE}")


def show_switch(actor, study_id: int) -> None:  # noqa: ANN001 - db.models.Account
    """Administrators: allow identifiable photos, or mask them again, with a reason."""
    photos = study_photos(state.get_clinic(), actor, study_id)
    if not photos.may_change:
        return
    st.subheader("Photos for researchers")
    st.write(photos.sentence)
    allow = not photos.identifiable
    with st.form(f"research_photos_{study_id}", clear_on_submit=True):
        reason = st.text_area(
            "Reason", placeholder="e.g. the ethics committee approved identifiable photos"
            if allow else "e.g. the photo analysis of the study is finished",
            help="Required. Kept in the audit trail with your name and the time.")
        label = "Allow identifiable photos" if allow else "Mask the photos again"
        if st.form_submit_button(label):
            try:
                set_identifiable_photos(state.get_clinic(), actor, study_id=study_id,
                                        allowed=allow, reason=reason)
            except (PermissionDenied, NotFound, ValueError) as error:
                st.error(display.plain(str(error)))  # may quote typed text
            else:
                state.flash("Researchers of this study now see identifiable photos." if allow
                            else "Researchers of this study now see the photos masked.")
                st.rerun()
    if photos.decisions:
        display.show_table(pd.DataFrame([
            {"when": d.at, "by": d.by,
             "setting": "identifiable photos allowed" if d.allowed else "photos masked",
             "reason": d.reason}
            for d in photos.decisions
        ]), {"when": display.moment("When (UTC)"), "by": display.text("By"),
             "setting": display.text("Setting"), "reason": display.text("Reason")})
