"""Models: what each model measures and how accurate it is on photos it never saw, its known
limits, its licence and the versions behind this clinic's analyses, in a clinician's words;
the engineering details (settings, validation numbers, files, checksums, commands) folded below.

Every number comes from the weights folder through `usecases.model_facts` (and
`usecases.model_engineering` for the folded section); none is written here. Versions read as
words ("models of 27 Nov 2026, 22:10"); the exact identifiers and checksums only as code blocks,
and the full model card (markdown for engineers) as a download.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.types import GRADE_LABELS, Right, role_may
from dashboard import state
from usecases import model_engineering, model_facts

actor = state.require_actor()
st.title("Models")
settings = state.get_settings()

analyzer = state.get_analyzer()
installed_version = analyzer.model_version if analyzer is not None else None
if analyzer is None:
    state.show_no_model_warning()
else:
    st.success(f"In use: {model_facts.version_label(installed_version)}.")
if role_may(actor.role, Right.ADMINISTER) and st.button("Look for newly installed models", key="reload_models"):
    state.reload_analyzer()
    st.rerun()

overview = model_facts.models_overview(settings.weights_dir)
if not overview.installed:
    st.info(f"Nothing to list in {settings.weights_dir}: {overview.problem}")
else:
    st.header("What the models measure, and how accurate they are")
    if overview.measured_on:
        st.caption(f"Accuracy measured on {overview.measured_on:%d %b %Y} on photos that no "
                   "training or tuning step saw, the way the app measures them: a photo the app "
                   "would not measure counts as finding no lesion.")
    for summary in overview.summaries:
        with st.container(border=True):
            st.subheader(summary.title)
            st.write(summary.measures)
            if summary.accuracy:
                st.markdown("\n".join(f"- {sentence}" for sentence in summary.accuracy))
            else:
                st.caption("Not measured on photos it never saw: the installed weights record no "
                           "such results.")

    st.header("Known limits")
    if overview.limits:
        st.markdown("\n".join(f"- {limit}" for limit in overview.limits))
    else:
        st.caption("No known limits are recorded with the installed weights.")

    st.header("Licence")
    if overview.licence:
        st.warning("\n\n".join(overview.licence))
    else:
        st.warning("No licence is recorded with the installed weights: ask whoever installed them "
                   "on what terms they may be used.")

st.header("Model versions behind the analyses in this clinic")
versions = model_facts.versions_in_use(state.get_clinic(), actor, installed_version=installed_version)
st.write(model_facts.versions_sentence(versions))
if versions:
    st.dataframe(pd.DataFrame({
        "Models": [version.label for version in versions],
        "Photos showing its analysis now": [version.current_photos for version in versions],
        "Analyses it made": [version.model_analyses for version in versions],
        "Installed now": ["yes" if version.installed else "no" for version in versions],
    }), hide_index=True, width="stretch")
    st.caption("A photo shows the analysis of the models it was last analysed with; a "
               "clinician's correction keeps the version of the analysis it corrects.")

if overview.installed:
    with st.expander("For engineers: settings, validation numbers, files and checksums"):
        if versions:
            # The exact identifiers only as code: copied by an engineer, never read as words.
            st.markdown("**Exact version of each row above**")
            st.code("\n".join(f"{version.label}: {version.version}" for version in versions),
                    language=None)
        if overview.settings:
            st.markdown("**Lesion finder settings**")
            st.table(pd.DataFrame({"Setting": [d.name for d in overview.settings],
                                   "Value": [d.value for d in overview.settings]}))
        for entry in overview.entries:
            st.markdown(f"**{entry.title}**, {entry.label}, file {entry.file}")
            st.code(f"{entry.file}  version {entry.version}\n"
                    f"{entry.file}  sha256 {entry.sha256 or 'not recorded'}", language=None)
            for caption, details in entry.measured:
                st.caption(caption)
                st.table(pd.DataFrame({"Measure": [d.name for d in details],
                                       "Value": [d.value for d in details]}))
            if entry.confusion:
                labels = [GRADE_LABELS.get(i, str(i)) for i in range(len(entry.confusion))]
                st.caption("Grades on the validation photos: rows the dermatologists' grade, "
                           "columns the grader's")
                st.table(pd.DataFrame(list(entry.confusion), index=labels, columns=labels))
        st.markdown("**Commands** (run from the project folder; the model card has the rest)")
        for purpose, command in model_engineering.COMMANDS:
            st.caption(purpose)
            st.code(command, language="bash")

if overview.model_card is not None:
    # Written in markdown for engineers (training runs, file formats, commands): offered as
    # the document itself; what a clinician needs from it is in words above.
    st.download_button(
        "Download the full model card (for engineers)", overview.model_card.read_bytes(),
        file_name=overview.model_card.name, mime="text/markdown", on_click="ignore",
        key="model_card", icon=":material/description:",
        help="How the models were trained and measured, in detail. What they measure, how "
             "accurate they are, their limits and licence are on this page in plain words.")
elif overview.installed:
    st.info("No model card found next to the weights.")
state.show_notice()
