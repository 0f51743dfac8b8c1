"""Patients: search, pick the current patient, create, edit, delete (typed confirmation).

A patient is named by a pseudonymous code; the real name is optional. Every read goes through
the repository with the signed-in account, which returns only the patients it may see.
Researchers see study subjects by their subject label ("S-0001") only: the repository gives
them no code, name or notes.
"""
from __future__ import annotations

import secrets
from datetime import date
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import display, state
from db.errors import PermissionDenied
from db.models import PatientCreate, PatientUpdate
from db.repository import create_patient, delete_patient, list_patients, update_patient

SKIN_TYPES: tuple[str | None, ...] = (None, "I", "II", "III", "IV", "V", "VI")
NEW_ROUND_KEY = "new_patient_round"


def suggested_code() -> str:
    """A random pseudonymous code (no name, initials or date of birth in it)."""
    return f"P-{secrets.token_hex(3).upper()}"


def skin_label(value: str | None) -> str:
    return "not recorded" if value is None else f"Fitzpatrick {value}"


def patients_table(patients, subjects: bool = False) -> pd.DataFrame:  # noqa: ANN001 - list[db.models.Patient]
    """The list of patients; for researchers (`subjects`) the subject label and no name."""
    if subjects:
        return pd.DataFrame(
            [{"subject": p.code, "skin type": skin_label(p.skin_type), "consent": p.consent_date}
             for p in patients],
            columns=["subject", "skin type", "consent"],
        )
    return pd.DataFrame(
        [
            {
                "code": p.code,
                "name": p.name,
                "skin type": skin_label(p.skin_type),
                "consent": p.consent_date,
                "team": p.team,
                "created": p.created_at.date() if p.created_at else None,
            }
            for p in patients
        ],
        columns=["code", "name", "skin type", "consent", "team", "created"],
    )


TABLE_COLUMNS = {
    "subject": display.text("Subject"),
    "code": display.text("Code"),
    "name": display.text("Name"),
    "skin type": display.text("Skin type"),
    "consent": display.day("Consent given", help="Empty when no consent is recorded."),
    "team": display.text("Team"),
    "created": display.day("Added"),
}


def _on_pick() -> None:
    state.select_patient(st.session_state.get("patient_picker"))


def consent_box(prefix: str, patient=None) -> bool:  # noqa: ANN001
    """'Consent recorded', outside the form so that the consent date appears only with it.
    Unticked unless the patient's record holds a consent: never carried over from another form
    (the new-patient form's widgets are new after each save: NEW_ROUND_KEY)."""
    return st.checkbox("Consent recorded", value=bool(patient and patient.consent_date),
                       key=f"{prefix}_consent")


def patient_fields(prefix: str, patient=None, has_consent: bool = False) -> dict[str, object]:  # noqa: ANN001
    """The form fields shared by 'new' and 'edit' (inside a st.form); the consent date only
    when consent is recorded (`consent_box`, above the form)."""
    name = st.text_input("Name (optional)", value=(patient.name or "") if patient else "",
                         key=f"{prefix}_name")
    consent = None
    if has_consent:
        consent = st.date_input(
            "Consent date",
            value=(patient.consent_date if patient and patient.consent_date else date.today()),
            max_value=date.today(),
            key=f"{prefix}_consent_date",
        )
    current_skin = patient.skin_type if patient else None
    skin = st.selectbox(
        "Skin type",
        SKIN_TYPES,
        index=SKIN_TYPES.index(current_skin) if current_skin in SKIN_TYPES else 0,
        format_func=skin_label,
        key=f"{prefix}_skin",
    )
    notes = st.text_area("Notes", value=patient.notes if patient else "", key=f"{prefix}_notes")
    research = st.checkbox(
        "Allows research use", value=bool(patient and patient.research_consent),
        key=f"{prefix}_research",
        help="The patient agreed that their photos, de-identified (no name, code or date), and "
             "the lesions a clinician corrected may be used to train the lesion model. Off unless "
             "ticked.")
    return {
        "name": name.strip() or None,
        "consent_date": consent if has_consent else None,
        "skin_type": skin,
        "notes": notes,
        "research_consent": research,
    }


actor = state.require_actor()
editable = state.can_edit(actor)
subjects = state.hides_identity(actor)
st.title("Patients")
state.show_flash()

search = st.text_input("Search by subject label" if subjects else "Search by code or name",
                       key="patient_search")
with state.db_session() as session:
    patients = list_patients(session=session, actor=actor, search=search.strip() or None)

if patients:
    display.show_table(patients_table(patients, subjects), TABLE_COLUMNS)
else:
    st.info("No patient found." if search.strip() else "No patient yet.")

by_id = {p.id: p for p in patients}
current_id = state.selected_patient_id()
options: list[int | None] = [None, *by_id]
if current_id is not None and current_id not in by_id:
    # Kept so a search does not silently drop the current patient; it is re-checked below.
    options.append(current_id)
st.session_state["patient_picker"] = current_id if current_id in options else None
st.selectbox(
    "Current patient",
    options,
    format_func=lambda i: "none" if i is None else (
        f"{by_id[i].code}" + (f" ({by_id[i].name})" if by_id[i].name else "")
        if i in by_id else "the patient chosen before"
    ),
    key="patient_picker",
    on_change=_on_pick,
)

if current_id is not None:
    patient = state.require_patient(actor)
    st.subheader(f"{'Subject' if subjects else 'Patient'} {display.plain(patient.code)}")
    row = display.metric_row()
    display.metric(row, "Skin type", skin_label(patient.skin_type))
    display.metric(row, "Consent", f"{patient.consent_date:%d %b %Y}" if patient.consent_date
                   else "not recorded")
    display.metric(row, "Research use", "allowed" if patient.research_consent else "not allowed")
    display.metric(row, "Team", patient.team or "none")
    if patient.notes:
        display.show_text(st, patient.notes)  # typed by a person: plain text, never markdown
    links = st.columns(4)
    if editable:
        links[0].page_link("views/new_visit.py", label="New visit", icon=":material/add_a_photo:")
    links[1].page_link("views/visit.py", label="Visits and photos", icon=":material/photo_library:")
    if (Path(__file__).parent / "trends.py").is_file():
        links[2].page_link("views/trends.py", label="Trends", icon=":material/monitoring:")

    if editable:
        with st.expander("Edit this patient"):
            has_consent = consent_box(f"edit_{patient.id}", patient)
            with st.form(f"edit_patient_{patient.id}"):
                code = st.text_input("Code", value=patient.code)
                fields = patient_fields(f"edit_{patient.id}", patient, has_consent)
                saved = st.form_submit_button("Save changes")
            if saved:
                try:
                    with state.db_session() as session:
                        update_patient(
                            session=session,
                            actor=actor,
                            patient_id=patient.id,
                            data=PatientUpdate(code=code.strip(), **fields),
                        )
                except (PermissionDenied, ValueError) as error:
                    st.error(display.plain(str(error)))  # may quote typed text
                else:
                    state.flash(f"Patient {code.strip()} saved.")
                    st.rerun()

        with st.expander("Delete this patient"):
            st.warning(
                "This removes the patient with every visit, photo, analysis, review, treatment "
                "event and study enrolment. It cannot be undone."
            )
            typed = st.text_input(
                f"Type the code {patient.code} to confirm", key=f"delete_confirm_{patient.id}"
            )
            if st.button(
                "Delete patient and all photos",
                type="primary",
                disabled=typed.strip() != patient.code,
                key=f"delete_{patient.id}",
            ):
                try:
                    with state.db_session() as session:
                        delete_patient(
                            session=session,
                            actor=actor,
                            photo_store=state.get_photo_store(),
                            patient_id=patient.id,
                        )
                except PermissionDenied as error:
                    st.error(str(error))
                else:
                    # Cached tables (study results) must not keep the person's numbers either.
                    st.cache_data.clear()
                    state.select_patient(None)
                    state.flash(f"Patient {patient.code} and all their photos were deleted.")
                    st.rerun()

if editable:
    st.subheader("New patient")
    # Every widget of the form is a new one after each save (its key carries the round): a
    # browser cannot carry a tick, a date or a note over to the next patient (issue 26).
    new_round = st.session_state.get(NEW_ROUND_KEY, 0)
    prefix = f"new_{new_round}"
    new_consent = consent_box(prefix)
    with st.form(f"new_patient_{new_round}"):
        # Drawn once per new patient, so a rerun does not change the code being typed.
        code = st.text_input(
            "Pseudonymous code", value=st.session_state.setdefault("code_suggestion", suggested_code()),
            help="Use no name, initials or date of birth in the code.", key=f"{prefix}_code",
        )
        fields = patient_fields(prefix, has_consent=new_consent)
        created = st.form_submit_button("Create patient", type="primary")
    if created:
        if not code.strip():
            st.error("Enter a code.")
        else:
            try:
                with state.db_session() as session:
                    new = create_patient(
                        session=session, actor=actor, data=PatientCreate(code=code.strip(), **fields)
                    )
                    new_id = new.id
            except (PermissionDenied, ValueError) as error:
                st.error(display.plain(str(error)))  # may quote typed text
            else:
                st.session_state.pop("code_suggestion", None)
                st.session_state[NEW_ROUND_KEY] = new_round + 1  # the next form starts empty
                state.select_patient(new_id)
                state.flash(f"Patient {code.strip()} created.")
                st.rerun()
else:
    st.caption("Researchers have read-only access to the patients of their studies.")
