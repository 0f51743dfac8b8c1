"""What every page shares: settings, cached resources, the signed-in account, the current patient.

Pages stay thin: they call these helpers, the application layer (`usecases`) and repository
reads, then render. Heavy objects (the clinic's engine and photo store, the analyzer) are
`st.cache_resource`d so a rerun never reconnects or reloads a model.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from core.types import Right, Role, role_may
from dashboard import query
from usecases import model_loading
from usecases.settings import Settings, SettingsError, check_migrated, load_settings, storage_sentence

if TYPE_CHECKING:  # imported lazily at run time so a page import stays cheap
    from sqlalchemy.engine import Engine
    from sqlmodel import Session

    from core.pipeline import Analyzer
    from db.models import Account, Patient
    from db.photos import PhotoStore
    from usecases.clinic import Clinic

NOT_A_DIAGNOSIS = (
    "Not a diagnosis. These counts, grades and overlays are software measurements that help "
    "follow change over time; a clinician must interpret them."
)

ACCOUNT_KEY = "account_id"
ACTIVITY_KEY = "last_activity"
PATIENT_KEY = "patient_id"
VISIT_KEY = "visit_id"
NO_ACCESS = query.NO_ACCESS


# ---- cached resources -------------------------------------------------------------------------


@st.cache_resource(show_spinner=False)
def _checked_settings() -> Settings:
    # Only a success is cached (st.cache_resource never caches an exception): a database that
    # was down is tried again on the next page run.
    settings = load_settings()
    from usecases.clinic import check_clinic  # the data folder, the database, their pairing

    check_clinic(settings)
    check_migrated(settings)  # a database without its tables: one sentence, not a failed query
    return settings


def settings_problem() -> str | None:
    """Why the app cannot start, in one sentence naming the variable, or None when the settings
    are valid, the data folder usable and the database reachable."""
    try:
        _checked_settings()
    except SettingsError as error:
        return str(error)
    return None


def storage_problem(error: BaseException) -> str:
    """One sentence for an error of the database or the disk met while a page ran (a full
    disk, a file that is not a database): what the page shows instead of a traceback."""
    try:
        return storage_sentence(get_settings(), error)
    except SettingsError as problem:
        return str(problem)


def get_settings() -> Settings:
    """The validated settings (read and checked once per process)."""
    return _checked_settings()


@st.cache_resource(show_spinner=False)
def get_clinic() -> "Clinic":
    """The clinic's engine and photo store, for the application layer's use cases."""
    from usecases.clinic import open_clinic

    return open_clinic(get_settings(), check=False)  # checked once by _checked_settings


def get_engine() -> "Engine":
    """The database engine for the configured DATABASE_URL."""
    return get_clinic().engine


def get_photo_store() -> "PhotoStore":
    """The content-addressed photo store under the data folder."""
    return get_clinic().photo_store


def start_model_loading() -> None:
    """Load the models in the background from the app's first run (issue 17: the first photo
    after start-up must not wait for the imports and weights); the chart libraries too."""
    settings = get_settings()
    model_loading.start_loading(settings.weights_dir, settings.engine)
    _start_warming_imports()


# The libraries the chart pages import (plotly's figure classes, scipy's t-distribution for the
# study intervals): some two seconds of a busy machine on the first open of a chart page
# (issue 28), imported in the background while the user signs in.
WARM_MODULES = ("plotly.graph_objects", "plotly.subplots", "plotly.io", "scipy.stats",
                "dashboard.charts.trends", "dashboard.charts.studies")
_warming = threading.Event()


def _start_warming_imports() -> None:
    """Import WARM_MODULES once per process in a daemon thread (a page importing one meanwhile
    waits for that module, as Python's import lock does; a failure is left to the page)."""
    if _warming.is_set():
        return
    _warming.set()

    def warm() -> None:
        import importlib

        for name in WARM_MODULES:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - the page that needs it reports it
                return

    threading.Thread(target=warm, name="warm-imports", daemon=True).start()


def _analyzer_for(weights_dir: str) -> "tuple[Analyzer | None, str | None]":
    # Loaded once per process by the application layer; the failure is kept too, so a missing
    # model is not searched for on every rerun.
    engine = get_settings().engine
    if model_loading.is_loaded(weights_dir, engine):
        return model_loading.loaded_analyzer(weights_dir, engine)
    with st.spinner("Loading the lesion model ..."):
        return model_loading.loaded_analyzer(weights_dir, engine)


def get_analyzer() -> "Analyzer | None":
    """The installed analyzer, or None when no usable model is installed."""
    return _analyzer_for(str(get_settings().weights_dir))[0]


def analyzer_problem() -> str | None:
    """Why no analyzer is available (the loader's own message), or None when one is."""
    return _analyzer_for(str(get_settings().weights_dir))[1]


def reload_analyzer() -> None:
    """Forget the loaded model so a newly installed one is picked up."""
    settings = get_settings()
    model_loading.forget(settings.weights_dir, settings.engine)


def show_no_model_warning() -> None:
    """The plain warning pages show instead of any result when no model is usable."""
    problem = analyzer_problem() or "the model could not be loaded."
    if not problem.startswith("No model is installed"):
        problem = f"No model is installed that can be used: {problem}"
    st.warning(f"{problem} Photos are stored without an analysis; nothing is estimated.")


@contextmanager
def db_session() -> "Iterator[Session]":
    """A new database session for one user action (repository reads)."""
    with get_clinic().session() as session:
        yield session


# ---- the signed-in account --------------------------------------------------------------------


SIGNIN_KEY = "signin_id"  # the sign-in row kept across reloads (usecases.signins)
SIGNIN_SEEN_KEY = "signin_seen"  # when that row was last marked as used
COOKIE_CODE_KEY = "cookie_code"  # the one-time code the browser exchanges for the cookie
FORGET_COOKIE_KEY = "forget_cookie"  # signed out: the browser deletes the cookie
SIGNIN_TOUCH_SECONDS = 30  # how often a page run marks the sign-in as used (a database write)


def sign_in(account_id: int, signin_id: int | None = None) -> None:
    """Remember who signed in; a fresh session state so nothing leaks from a previous user.
    `signin_id`: the sign-in row that keeps it across page reloads (usecases.signins)."""
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    st.session_state[ACCOUNT_KEY] = account_id
    st.session_state[ACTIVITY_KEY] = time.time()
    if signin_id is not None:
        st.session_state[SIGNIN_KEY] = signin_id
        st.session_state[SIGNIN_SEEN_KEY] = time.time()


def sign_in_browser(account_id: int) -> None:
    """Sign in after the password was checked, kept across page reloads: a sign-in row, and a
    one-time code that `send_cookie_scripts` has the browser exchange for the HttpOnly cookie."""
    from usecases import signins

    signin_id, code = signins.begin(get_clinic(), account_id)
    sign_in(account_id, signin_id)
    st.session_state[COOKIE_CODE_KEY] = code


def _end_signin() -> None:
    signin_id = st.session_state.get(SIGNIN_KEY)
    if signin_id is not None:
        from usecases import signins

        signins.end(get_clinic(), signin_id)


def sign_out() -> None:
    """Forget the account and everything the session held (selected patient, prepared photos);
    the sign-in row ends, and the browser is told to delete its cookie."""
    _end_signin()
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    query.clear()
    st.session_state[FORGET_COOKIE_KEY] = True


def send_cookie_scripts() -> None:
    """Once after sign-in, have the browser exchange the one-time code for the HttpOnly sign-in
    cookie (dashboard/signin_routes.py); once after sign-out, have it delete the cookie. The
    code is random letters, digits, - and _ (secrets.token_urlsafe): nothing to escape."""
    from usecases.signins import SIGNIN_PATH, SIGNOUT_PATH

    code = st.session_state.pop(COOKIE_CODE_KEY, None)
    if code is not None and code.replace("-", "").replace("_", "").isalnum():
        st.html(f"<script>fetch('{SIGNIN_PATH}', {{method: 'POST', body: '{code}', "
                "credentials: 'same-origin'});</script>", unsafe_allow_javascript=True)
    if st.session_state.pop(FORGET_COOKIE_KEY, False):
        st.html(f"<script>fetch('{SIGNOUT_PATH}', {{method: 'POST', "
                "credentials: 'same-origin'});</script>", unsafe_allow_javascript=True)


def _resume_from_cookie() -> int | None:
    """A reload (F5) or a bookmarked address: the account of the browser's sign-in cookie
    while that sign-in is open (usecases.signins.resume), signed in again; else None."""
    from usecases import signins

    try:
        token = st.context.cookies.get(signins.COOKIE_NAME)
    except Exception:  # noqa: BLE001 - no browser request (a test run): no cookie
        return None
    if not isinstance(token, str) or not token:
        return None
    found = signins.resume(get_clinic(), token, get_settings().session_minutes)
    if found is None:
        return None
    signin_id, account_id = found
    sign_in(account_id, signin_id)
    return account_id


def current_actor() -> "Account | None":
    """The signed-in, active account, or None (signed out, inactive too long, or deactivated).
    A new page session (a reload, a bookmarked address) is signed in again from the browser's
    sign-in cookie while that sign-in is open."""
    account_id = st.session_state.get(ACCOUNT_KEY)
    if account_id is None:
        account_id = _resume_from_cookie()
    if account_id is None:
        return None
    now = time.time()
    last = st.session_state.get(ACTIVITY_KEY, now)
    if now - last > get_settings().session_minutes * 60:
        sign_out()
        st.session_state["signed_out_reason"] = "Your session expired; please sign in again."
        return None
    signin_id = st.session_state.get(SIGNIN_KEY)
    if signin_id is not None and now - st.session_state.get(SIGNIN_SEEN_KEY, 0) > SIGNIN_TOUCH_SECONDS:
        from usecases import signins

        if not signins.still_open(get_clinic(), signin_id):  # signed out elsewhere, new password
            sign_out()
            st.session_state["signed_out_reason"] = "You were signed out; please sign in again."
            return None
        st.session_state[SIGNIN_SEEN_KEY] = now
    from db.repository import get_account

    with db_session() as session:
        account = get_account(session=session, account_id=account_id)
    if account is None or not account.is_active:
        sign_out()
        return None
    st.session_state[ACTIVITY_KEY] = now
    return account


def require_actor(right: Right = Right.READ) -> "Account":
    """The signed-in account; stops the page when nobody is signed in or the role lacks `right`
    (core.types.ROLE_RIGHTS, the table the router and the access rules read too)."""
    actor = current_actor()
    if actor is None:
        st.info("Please sign in to continue.")
        st.stop()
    if not role_may(actor.role, right):
        st.info(f"This page is not available to the {actor.role} role.")
        st.stop()
    return actor


def can_edit(actor: "Account") -> bool:
    """Researchers read; clinicians and administrators record and edit."""
    return role_may(actor.role, Right.RECORD)


def hides_identity(actor: "Account") -> bool:
    """Researchers see study subjects by label, never a patient's code, name or photo file
    name (the repository already gives them labels instead of codes)."""
    return Role(actor.role).hides_identity


def data_key(actor: "Account") -> tuple:
    """What a page's cached reads are keyed by (st.cache_data): the account with its role and
    team (a changed right gives a new key), the clinic's data version (it changes with every
    committed change: a deleted patient, a new analysis or review gives a new key, so nothing
    stale is ever shown) and the database. One indexed query. Photos are never cached."""
    from db.repository import get_data_version

    with db_session() as session:
        version = get_data_version(session=session)
    return (actor.id, actor.role, actor.team, version, get_settings().resolved_database_url)


CACHE_TTL_S = 600  # a backstop: the data version in every cache key changes with every change

_GC_LOCK = threading.Lock()
# How many bulk reads run now (pages run in threads of one process), and whether the collector
# was on when the first of them began.
_GC_STATE = {"pauses": 0, "was_enabled": True}


@contextmanager
def bulk_read() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a page builds tens of thousands of plain
    rows (a study of 50,000 visits): its collections, triggered by the allocations alone,
    cost that read a quarter of a second and find nothing, since rows hold no cycles.
    Collection resumes when the last bulk read running in the process ends; a collector that
    someone else paused stays paused."""
    import gc

    with _GC_LOCK:
        if _GC_STATE["pauses"] == 0:
            _GC_STATE["was_enabled"] = gc.isenabled()
            gc.disable()
        _GC_STATE["pauses"] += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _GC_STATE["pauses"] -= 1
            if _GC_STATE["pauses"] == 0 and _GC_STATE["was_enabled"]:
                gc.enable()


@st.cache_data(show_spinner=False, max_entries=32, ttl=CACHE_TTL_S)
def patient_timeline_of(patient_id: int, key: tuple) -> tuple:
    """(timeline frame, treatment events as (date, text)) of a patient as the account of `key`
    (`data_key`) may see them, for the trends and compare pages: a rerun reads no row and
    builds no frame, and any change (a deleted patient, a new analysis) gives a new key. The
    repository checks the account's rights inside, as on every call. Numbers only: photos are
    never cached."""
    from dashboard.charts.timeline import timeline_frame
    from db.repository import get_account, list_treatment_events, patient_timeline

    with db_session() as session:
        account = get_account(session=session, account_id=key[0])
        if account is None:
            return timeline_frame([]), []
        rows = patient_timeline(session=session, actor=account, patient_id=patient_id)
        events = [
            (event.event_date, event.description)
            for event in list_treatment_events(session=session, actor=account,
                                               patient_id=patient_id)
        ]
    return timeline_frame(rows), events


# ---- the current patient ----------------------------------------------------------------------


def selected_patient_id() -> int | None:
    """The patient chosen on the patients page or named by `?patient=ID` (not yet access-checked).

    Callers must load it through `require_patient` / `get_patient(actor=...)`; this id alone
    grants nothing.
    """
    from_query = query.id_param("patient")  # every address parameter: dashboard/query.py
    if isinstance(from_query, int):
        st.session_state[PATIENT_KEY] = from_query
    elif from_query is query.BAD:
        # A value that cannot be an id (not a number, out of range) names no patient.
        st.session_state.pop(PATIENT_KEY, None)
        return -1
    value = st.session_state.get(PATIENT_KEY)
    return int(value) if value is not None else None


def select_patient(patient_id: int | None) -> None:
    """Make a patient current (and forget the visit of the previous one)."""
    if patient_id is None:
        st.session_state.pop(PATIENT_KEY, None)
    else:
        st.session_state[PATIENT_KEY] = int(patient_id)
    query.set_id("patient", patient_id)
    st.session_state.pop(VISIT_KEY, None)


def require_patient(actor: "Account") -> "Patient":
    """The current patient, re-checked against the actor's rights; stops the page otherwise."""
    patient_id = selected_patient_id()
    if patient_id is None:
        st.info("Choose a patient on the Patients page first.")
        st.stop()
    from db.repository import get_patient

    with db_session() as session:
        patient = get_patient(session=session, actor=actor, patient_id=patient_id)
    if patient is None:
        st.session_state.pop(PATIENT_KEY, None)
        st.error(NO_ACCESS)
        st.stop()
    return patient


def flash(message: str) -> None:
    """Keep a success message across the rerun that follows a save."""
    st.session_state.setdefault("flash", []).append(message)


def show_flash() -> None:
    """Show (once) the messages kept by `flash`."""
    from dashboard.display import plain

    for message in st.session_state.pop("flash", []):
        st.success(plain(message))  # messages may quote names and notes: plain text


def password_problem(password: str, repeated: str) -> str | None:
    """Why a new password is refused, or None when it is acceptable (the db rules apply too)."""
    from db.models import MIN_PASSWORD_LENGTH

    if len(password) < MIN_PASSWORD_LENGTH:
        return f"The password must have at least {MIN_PASSWORD_LENGTH} characters."
    if password != repeated:
        return "The two passwords differ."
    return None


def error_message(error: Exception) -> str:
    """A readable sentence for a refused input (pydantic lists its problems verbosely)."""
    from pydantic import ValidationError

    if isinstance(error, ValidationError):
        messages = [str(item["msg"]).removeprefix("Value error, ") for item in error.errors()]
        return "; ".join(messages)
    return str(error)


def show_notice() -> None:
    """The 'not a diagnosis' notice, shown wherever results are shown."""
    st.caption(f"⚠️ {NOT_A_DIAGNOSIS}")
