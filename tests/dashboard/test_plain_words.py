"""Every page speaks a clinician's words: no code names (`visit_date`, `left_cheek`,
`non_inflammatory`), no raw floats (`0.7655`), no "None" or "nan" in anything a person reads,
no count in the wrong number.

One seeded clinic (a patient with analysed and reviewed visits, region counts, a photo file
name with underscores, a visit with no photo and a treatment event; a patient without consent;
a study with two arms and a researcher member) is walked page by page, tab by tab, as a
clinician, an administrator and a researcher; a clinic with one of everything checks that a
count of one is said in the singular ("1 lesion", never "1 lesions" or "photo(s)"). On each
page every visible text is collected from the AppTest tree: titles, markdown, captions, alerts, metric
labels / values / deltas / help, widget labels / options / help, tab and expander labels, image
captions, table headers and cells (as the browser shows them: the column's label and format
from column_config, the table's placeholder for missing values, a Styler's display values;
static tables too), and the titles, axis titles, tick texts, trace names, annotations and
hover templates of every plotly figure. Code blocks (`st.code`) are not read as words: see
NOT_READ_AS_WORDS. The Models page is walked with the weights this repository ships.
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd
import pytest

from tests.dashboard.fixtures_d2 import (
    add_measured_visits,
    add_review,
    comedones,
    face_photo,
    lesion_row,
    make_analysis,
    open_as,
    papules,
    seed_patient,
)

# A code name: lower-case words joined by underscores (`visit_date`, `left_cheek`).
SNAKE_CASE = re.compile(r"\b[a-z]+_[a-z_]+\b")
# A number with more than three decimals (`0.7655`, a timestamp's `12:00:00.123456`).
LONG_FLOAT = re.compile(r"\d\.\d{4,}")
# What Python or pandas prints for a missing value.
MISSING = re.compile(r"\b(?:None|nan|NaN|NaT|null|<NA>)\b")
# A count in the wrong number: "photo(s)", "1 lesions", "1 analysed visits".
PLURAL_SLIP = re.compile(
    r"\w\(s\)|(?<![\d.,#])\b1 (?:[a-z-]+ )?(?:lesions|visits|photos|patients|subjects|analyses|"
    r"reviews|papules|pustules|comedones|nodules|nodules/cysts|weeks|days|events)\b")
# The allow-list, each with its reason. A photo's file name is what the person uploaded (or
# their camera chose), shown so they recognise the photo: it may hold underscores. A model
# file's name (the Models page's engineering section names each installed file) is what an
# engineer finds in the weights folder: only the weights' own kinds of file.
ALLOWED = (
    re.compile(r"\b[\w.-]+\.(?:png|jpe?g|heic|heif|webp|tiff?)\b", re.IGNORECASE),
    re.compile(r"\b[\w.-]+\.(?:onnx|json|safetensors|md)\b"),
)
UPLOADED_NAME = "cheek_close_up.png"  # exercises the allow-list: shown, and allowed
# Not judged: a code block (st.code) is explicitly code, set apart in monospace for an engineer
# to copy exactly (a command, a checksum, a model's exact version identifier); a page must say
# the same thing in words outside it when a clinician needs it.
NOT_READ_AS_WORDS = ("code",)


# ---------------------------------------------------------------- what a person reads


@dataclass(frozen=True)
class Shown:
    where: str  # e.g. "metric value", "table cell (inflammatory)"
    text: str


def _plain(value: object) -> str:
    return "" if value is None else str(value)


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


PRINTF = re.compile(r"%(?P<flags>[-+ 0,]*)(?P<width>\d*)(?:\.(?P<precision>\d+))?(?P<kind>[dfi])")


def _printf(template: str, value: object) -> str:
    """A number column's printf format (`%.1f`, `%d lesions`) as the browser applies it."""
    def one(match: re.Match) -> str:
        kind, precision = match["kind"], match["precision"]
        number = float(value)  # type: ignore[arg-type]
        if kind in "di":
            return f"{round(number):d}"
        return f"{number:.{int(precision) if precision else 6}f}"
    return PRINTF.sub(one, template).replace("%%", "%")


def _cell_text(value: object, config: dict, placeholder: str | None) -> str:
    """A table cell as the browser shows it (close enough to judge its words and decimals)."""
    if _is_missing(value):
        return "None" if placeholder is None else placeholder
    type_config = config.get("type_config") or {}
    kind, fmt = type_config.get("type"), type_config.get("format")
    if isinstance(value, (pd.Timestamp, datetime, date)):
        # A date or datetime column with a format shows that format: judged by its words only.
        return f"{value:%Y-%m-%d}" if kind in ("date", "datetime") and fmt else str(value)
    if isinstance(value, bool):
        return ""  # drawn as a tick box
    if kind == "number" and fmt and PRINTF.search(fmt) and isinstance(value, (int, float)):
        return _printf(fmt, value)
    return str(value)


def _table_texts(element) -> Iterator[Shown]:  # noqa: ANN001 - an AppTest Dataframe
    proto = element.proto
    config = json.loads(proto.columns) if proto.columns else {}
    placeholder = proto.placeholder if proto.HasField("placeholder") else None
    styler = proto.arrow_data.styler if proto.arrow_data.HasField("styler") else None
    frame = element.value
    if styler is not None and styler.display_values:
        from streamlit import dataframe_util

        frame = dataframe_util.convert_arrow_bytes_to_pandas_df(styler.display_values)
        placeholder = placeholder if placeholder is not None else "None"
    order = list(proto.column_order) or [str(c) for c in frame.columns]
    index_hidden = (config.get("_index") or {}).get("hidden", False)
    if not index_hidden and not isinstance(frame.index, pd.RangeIndex):
        name = frame.index.name
        if name is not None:
            yield Shown("table header (index)", (config.get("_index") or {}).get("label") or name)
        for value in frame.index:
            yield Shown("table cell (index)", _cell_text(value, {}, placeholder))
    for column in frame.columns:
        column_config = config.get(str(column)) or {}
        if column_config.get("hidden") or str(column) not in order:
            continue
        yield Shown("table header", column_config.get("label") or str(column))
        for value in frame[column].tolist():
            yield Shown(f"table cell ({column})", _cell_text(value, column_config, placeholder))


def _static_table_texts(frame: pd.DataFrame) -> Iterator[Shown]:
    if not isinstance(frame.index, pd.RangeIndex):
        yield from (Shown("table cell (index)", _cell_text(value, {}, None)) for value in frame.index)
    for column in frame.columns:
        yield Shown("table header", str(column))
        yield from (Shown(f"table cell ({column})", _cell_text(value, {}, None))
                    for value in frame[column].tolist())


def _text_of(value: object) -> str:
    """A plotly title, which may be a string or {"text": ...}."""
    if isinstance(value, dict):
        return _plain(value.get("text"))
    return _plain(value)


def _figure_texts(spec: dict) -> Iterator[Shown]:
    layout = spec.get("layout", {})
    yield Shown("chart title", _text_of(layout.get("title")))
    for key, axis in layout.items():
        if re.fullmatch(r"[xy]axis\d*", key):
            yield Shown(f"chart {key} title", _text_of(axis.get("title")))
            for tick in axis.get("ticktext") or ():
                yield Shown(f"chart {key} tick", _plain(tick))
    for annotation in layout.get("annotations") or ():
        yield Shown("chart annotation", _plain(annotation.get("text")))
        yield Shown("chart annotation hover", _plain(annotation.get("hovertext")))
    for trace in spec.get("data", []):
        if trace.get("showlegend", True) is not False:
            yield Shown("chart trace name", _plain(trace.get("name")))
        for text in (trace.get("text") if isinstance(trace.get("text"), list) else [trace.get("text")]):
            yield Shown("chart trace text", _plain(text))
        if trace.get("type") == "image" or trace.get("hoverinfo") in ("skip", "none"):
            continue
        template = trace.get("hovertemplate")
        # Without a template plotly shows the raw numbers and the trace's code-like fields.
        yield Shown("chart hover template", template if template else "<no hover template>")


def _hover_problem(trace: dict) -> str | None:
    """Why a trace's hover shows unreadable numbers, or None."""
    if trace.get("type") == "image" or trace.get("hoverinfo") in ("skip", "none"):
        return None
    template = trace.get("hovertemplate")
    if not template:
        return "no hover template (plotly would show raw values)"
    for field in ("y", "x", "customdata"):
        values = trace.get(field)
        values = values if isinstance(values, list) else []
        floats = [v for v in values if isinstance(v, float) and not float(v).is_integer()]
        if floats and re.search(r"%\{" + field + r"(?:\[\d+\])?\}", template):
            return f"%{{{field}}} shows unrounded numbers such as {floats[0]!r}"
    return None


TEXT_KINDS = ("title", "header", "subheader", "markdown", "caption", "info", "warning",
              "error", "success", "text", "exception")


def visible_texts(at) -> list[Shown]:  # noqa: ANN001 - an AppTest
    """Everything a person could read on the page."""
    shown: list[Shown] = []
    for node in at._tree:  # every element and block, in page order
        kind = getattr(node, "type", "")
        if kind in NOT_READ_AS_WORDS:
            continue
        if kind in TEXT_KINDS:
            shown.append(Shown(kind, _plain(node.value)))
        if kind == "progress":
            shown.append(Shown("progress text", node.text))
        if kind == "metric":
            shown += [Shown("metric label", node.label), Shown("metric value", node.value),
                      Shown("metric delta", _plain(node.delta)), Shown("metric help", node.help)]
            continue
        if kind == "dataframe":
            shown += list(_table_texts(node))
            continue
        if kind == "table":  # st.table: a static table, shown as its frame prints
            shown += list(_static_table_texts(node.value))
            continue
        if kind == "plotly_chart":
            shown += list(_figure_texts(json.loads(node.proto.spec)))
            continue
        if kind == "imgs":
            shown += [Shown("image caption", caption) for caption in node.captions]
            continue
        for attribute in ("label", "help", "placeholder"):
            try:
                value = getattr(node, attribute)
            except AttributeError:  # an element without that field
                continue
            if isinstance(value, str) and value:
                shown.append(Shown(f"{kind} {attribute}", value))
        options = getattr(node, "options", None) if kind in ("selectbox", "radio", "multiselect") else None
        for option in options or ():
            shown.append(Shown(f"{kind} option", _plain(option)))
    return [item for item in shown if item.text]


def text_problems(text: str) -> list[str]:
    """The rules one visible text breaks: a code name, a long float, a printed missing value or
    a wrong plural (the real browser's check in tests/e2e/test_plain_screen.py uses it too)."""
    for allowed in ALLOWED:
        text = allowed.sub("<allowed>", text)
    broken = []
    for rule, pattern in (("code name", SNAKE_CASE), ("long float", LONG_FLOAT),
                          ("missing value", MISSING), ("wrong plural", PLURAL_SLIP)):
        match = pattern.search(text)
        if match:
            broken.append(f"{rule} {match.group(0)!r}")
    return broken


def problems(at) -> list[str]:  # noqa: ANN001 - an AppTest
    """Each visible text that holds a code name, a long float or a printed missing value."""
    found = []
    for item in visible_texts(at):
        found += [f"{item.where}: {broken} in {item.text[:120]!r}" for broken in text_problems(item.text)]
        if item.text == "<no hover template>":
            found.append(f"{item.where}: a chart trace has no hover template")
    for element in at.get("plotly_chart"):
        spec = json.loads(element.proto.spec)
        for trace in spec.get("data", []):
            problem = _hover_problem(trace)
            if problem:
                found.append(f"chart trace {trace.get('name')!r}: {problem}")
    return found


# ---------------------------------------------------------------- the clinic


@dataclass
class Clinic:
    admin: int
    doctor: int
    researcher: int
    patient: int
    visits: list[int]
    other_patient: int
    study_id: int


def _with_regions(analysis, grade: int, confidence: float):  # noqa: ANN001, ANN202
    """The analysis with lesions in two regions, a GAGS estimate and an unround confidence."""
    from core.types import GRADE_LABELS, Grade

    return dataclasses.replace(
        analysis,
        region_counts={"left_cheek": {"papule": 3, "comedone": 1}, "forehead": {"papule": 2}},
        gags_estimate=7,
        grade=Grade(value=grade, label=GRADE_LABELS[grade], confidence=confidence),
    )


@pytest.fixture
def clinic(dash) -> Clinic:  # noqa: ANN001
    from db.photos import PhotoStore
    from db.repository import (
        add_study_member,
        add_treatment_event,
        create_study,
        create_visit,
        enrol_patient,
        list_arms,
        store_photo,
    )

    admin = dash.make_account("root", role="admin")
    doctor = dash.make_account("north-doc", role="clinician", team="north")
    researcher = dash.make_account("res", role="researcher")
    account = dash.get_account(doctor)
    seeded = seed_patient(dash, doctor, "ACN-001", [
        (date(2024, 1, 10), papules(12) + comedones(5)),
        (date(2024, 2, 10), papules(7) + comedones(4)),
    ], team="north", grades=[1, 1])
    # A third visit whose photo the person named with underscores, with regions and GAGS.
    photo = dataclasses.replace(face_photo(brightness=7), filename=UPLOADED_NAME)
    analysis = _with_regions(make_analysis(photo, papules(3) + comedones(2)), 0, 0.7655)
    store = PhotoStore(dash.env.data_dir / "photos")
    with dash.env.session() as session:
        visit = create_visit(session=session, actor=account, patient_id=seeded.patient_id,
                             visit_date=date(2024, 3, 12), treatment_notes="adapalene gel")
        store_photo(session=session, actor=account, photo_store=store, visit_id=visit.id,
                    photo=photo, analysis=analysis)
        seeded.visit_ids.append(visit.id)
    dash.make_visit(doctor, seeded.patient_id, date(2024, 3, 20), notes="telephone follow-up")
    add_review(dash, doctor, seeded.analysis_ids[0], iga=3)
    add_review(dash, doctor, seeded.analysis_ids[1], iga=2, grade_override=0)
    other = seed_patient(dash, doctor, "ACN-002", [(date(2024, 1, 5), papules(30)),
                                                   (date(2024, 2, 2), papules(9) + comedones(1))],
                         team="north")
    add_measured_visits(dash, doctor, other, [(date(2024, 3, 1), [lesion_row("nodule", 30, 30)])])
    dash.make_patient(doctor, "ACN-003", team="north")  # no consent, no visit
    with dash.env.session() as session:
        from db.models import PatientUpdate
        from db.repository import update_patient

        update_patient(session=session, actor=account, patient_id=seeded.patient_id,
                       data=PatientUpdate(name="Ada Example", consent_date=date(2024, 1, 2),
                                          skin_type="III"))
        add_treatment_event(session=session, actor=account, patient_id=seeded.patient_id,
                            event_date=date(2024, 1, 20), description="started adapalene 0.1%")
        study = create_study(session=session, actor=account, name="Adapalene trial",
                             arms=["drug", "vehicle"])
        arms = {a.name: a.id for a in list_arms(session=session, actor=account, study_id=study.id)}
        enrol_patient(session=session, actor=account, study_id=study.id, arm_id=arms["drug"],
                      patient_id=seeded.patient_id)
        enrol_patient(session=session, actor=account, study_id=study.id, arm_id=arms["vehicle"],
                      patient_id=other.patient_id)
        add_study_member(session=session, actor=account, study_id=study.id, account_id=researcher)
    return Clinic(admin=admin, doctor=doctor, researcher=researcher,
                  patient=seeded.patient_id, visits=seeded.visit_ids,
                  other_patient=other.patient_id, study_id=study.id)


def _page(dash, account: int, page: str, **state) -> object:  # noqa: ANN001
    at = open_as(dash, account, page, state=state)
    assert not at.exception, at.exception
    return at


class Report:
    """Problems of every page walked, reported together (one failure names them all)."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def check(self, at, where: str) -> None:  # noqa: ANN001 - an AppTest
        self.found += [f"{where}: {problem}" for problem in problems(at)]

    def assert_clean(self) -> None:
        assert not self.found, "\n".join(dict.fromkeys(self.found))


# ---------------------------------------------------------------- the checker itself


def test_the_checker_finds_code_names_floats_and_missing_values():
    """The rules fail on what the new clinic user saw (a test that cannot fail proves nothing)."""
    from streamlit.testing.v1 import AppTest

    def script() -> None:
        import pandas as pd
        import plotly.graph_objects as go
        import streamlit as st

        st.metric("Lesion area", "0.0915")
        st.dataframe(pd.DataFrame({"visit_date": ["2024-01-10"], "iga": [None]}))
        st.caption("1 lesions on the left_cheek")
        figure = go.Figure(go.Scatter(x=[1, 2], y=[0.12345, 0.5]))
        figure.update_layout(xaxis_title="visit_date")
        st.plotly_chart(figure)
        st.dataframe(pd.DataFrame({"grade_confidence": [0.7655]}),
                     column_config={"grade_confidence": st.column_config.NumberColumn(
                         "Confidence", format="%.2f")}, placeholder="—", hide_index=True)
        # A model version as text is judged (read as a long float and a code name); the same
        # in a code block, or a model file's name, is not.
        st.markdown("Made by seg-2026.11.27.2210-web_mix")
        st.code("seg-2026.11.27.2210-mobilenet_v2  sha256 a_b", language=None)
        st.caption("File mtcnn_pnet.onnx, card MODEL_CARD.md; not mtcnn_rnet.pth")
        st.table(pd.DataFrame({"Measure": ["count_mae"], "Value": [3.4382]}))

    at = AppTest.from_function(script).run()
    found = "\n".join(problems(at))
    assert "'7.2210'" in found and "'web_mix'" in found
    assert "mobilenet_v2" not in found and "'a_b'" not in found
    assert "'mtcnn_pnet'" not in found and "code name 'mtcnn_rnet'" in found
    assert "'count_mae'" in found and "'3.4382'" in found  # a static table's cells
    assert "'0.0915'" in found
    assert "'visit_date'" in found and "'None'" in found
    assert "'left_cheek'" in found
    assert "xaxis title: code name 'visit_date'" in found
    assert "no hover template" in found
    assert "wrong plural '1 lesions'" in found
    # The formatted, labelled column is read as shown: "Confidence" and "0.77".
    assert "grade_confidence" not in found and "0.7655" not in found


# ---------------------------------------------------------------- every page


def test_clinician_pages_speak_plain_words(dash, clinic):
    report = Report()
    doctor, patient = clinic.doctor, clinic.patient
    at = _page(dash, doctor, "patients", patient_id=patient)
    report.check(at, "patients")
    at = _page(dash, doctor, "patients", patient_id=clinic.other_patient)
    report.check(at, "patients, a patient without a name")

    at = _page(dash, doctor, "new_visit", patient_id=patient)
    report.check(at, "new visit")

    for visit_id in clinic.visits:
        at = _page(dash, doctor, "visit", patient_id=patient, visit_id=visit_id)
        report.check(at, f"visit {visit_id}")

    for tab in ("Inflammatory / non-inflammatory", "By lesion type", "Lesion area", "Grade",
                "Clinician IGA"):
        for mode in ("value", "absolute", "percent"):
            at = _page(dash, doctor, "trends", patient_id=patient, trend_tab=tab,
                       trend_mode=mode)
            report.check(at, f"trends, {tab}, {mode}")

    at = _page(dash, doctor, "compare", patient_id=patient)
    report.check(at, "compare")

    at = _page(dash, doctor, "review", review_last_patient=patient)
    report.check(at, "review queue")

    for tab in ("Results", "Measurements", "Enrolment", "Members"):
        at = _page(dash, doctor, "studies", study_tab=tab)
        report.check(at, f"studies, {tab}")

    at = _page(dash, doctor, "reports", patient_id=patient)
    at.button(key="prepare_report").click().run()
    assert not at.exception
    report.check(at, "reports")
    report.assert_clean()


def test_administrator_pages_speak_plain_words(dash, clinic):
    report = Report()
    for page in ("accounts", "audit"):
        at = _page(dash, clinic.admin, page)
        report.check(at, page)
    report.assert_clean()


def test_researcher_pages_speak_plain_words(dash, clinic):
    report = Report()
    researcher = clinic.researcher
    for page in ("patients", "visit", "trends", "compare", "reports"):
        at = _page(dash, researcher, page, patient_id=clinic.patient)
        report.check(at, f"{page} (researcher)")
    for tab in ("Results", "Measurements"):
        at = _page(dash, researcher, "studies", study_tab=tab)
        report.check(at, f"studies, {tab} (researcher)")
    report.assert_clean()


@dataclass(frozen=True)
class ShippedModels:
    """Stands in for the loaded shipped models: the page reads only their version."""

    model_version: str


def test_models_page_speaks_plain_words_with_the_shipped_weights(dash, clinic, monkeypatch):
    """The Models page, folded sections included, as each role that may open it reads it with
    the weights this repository ships (their manifest, model card and settings file) and an
    analysis made by them: versions in words, file names allowed, exact identifiers as code."""
    import streamlit as st

    from core.imaging import decode_photo
    from core.manifest import DEFAULT_WEIGHTS_DIR, read_manifest
    from dashboard import state

    if not (DEFAULT_WEIGHTS_DIR / "manifest.json").is_file():
        pytest.skip("no shipped weights")
    entries = read_manifest(DEFAULT_WEIGHTS_DIR)
    shipped = f"{entries['segmenter'].version}+{entries['grader'].version}"  # as the loader names it
    photo = decode_photo(dash.face_photo_bytes(size=300), filename="face.png")
    dash.make_visit(clinic.doctor, clinic.patient, date(2024, 4, 2), photo=photo,
                    analysis=dash.sample_analysis(photo, model_version=shipped))
    monkeypatch.setenv("ACNE_WEIGHTS_DIR", str(DEFAULT_WEIGHTS_DIR))
    monkeypatch.setattr(state, "_analyzer_for", lambda weights_dir: (ShippedModels(shipped), None))
    st.cache_resource.clear()  # the settings are read again, with the shipped weights folder

    report = Report()
    for role, account in (("clinician", clinic.doctor), ("administrator", clinic.admin),
                          ("researcher", clinic.researcher)):
        at = _page(dash, account, "models")
        shown = dash.page_text(at)
        # The shipped weights are what the page shows, their version in words ...
        assert "Lesion finder and counter" in dash.texts(at.subheader), role
        assert [text for text in dash.texts(at.success) if text.startswith("In use: models of ")]
        assert at.expander and at.expander[0].label.startswith("For engineers"), role
        # ... and the exact identifier only as code (so the walk below reads every other text).
        assert shipped not in shown and entries["segmenter"].version not in shown, role
        assert any(entries["segmenter"].version in code for code in dash.texts(at.code)), role
        report.check(at, f"models ({role})")
    report.assert_clean()


class OneLesionAnalyzer:
    """Stands in for the installed model: one papule on every photo."""

    model_version = "one-lesion test 1.0"

    def __init__(self, dash) -> None:  # noqa: ANN001
        self.dash = dash

    def analyze(self, photo):  # noqa: ANN001, ANN201
        return self.dash.sample_analysis(photo, lesions=1, model_version=self.model_version)


def test_one_of_everything_is_said_in_the_singular(dash, monkeypatch):
    """One patient, one visit, one lesion, one waiting analysis, one enrolled patient, one
    uploaded photo: every count of one reads "1 lesion", never "1 lesions" or "photo(s)"."""
    from dashboard import state
    from db.repository import create_study, enrol_patient, list_arms

    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    seeded = seed_patient(dash, doctor, "ACN-001", [(date(2024, 1, 10), papules(1))])
    account = dash.get_account(doctor)
    with dash.env.session() as session:
        study = create_study(session=session, actor=account, name="Pilot", arms=["drug"])
        arm = list_arms(session=session, actor=account, study_id=study.id)[0]
        enrol_patient(session=session, actor=account, study_id=study.id, arm_id=arm.id,
                      patient_id=seeded.patient_id)
    report = Report()

    at = _page(dash, doctor, "review")
    assert "1 analysis awaits review, oldest first." in dash.texts(at.caption)
    report.check(at, "review queue")

    at = _page(dash, doctor, "studies")
    assert any("1 patient enrolled" in caption for caption in dash.texts(at.caption))
    report.check(at, "studies")

    at = _page(dash, doctor, "reports", patient_id=seeded.patient_id)
    assert "1 analysed visit, 10 Jan 2024." in dash.texts(at.markdown)
    at.button(key="prepare_report").click().run()
    assert any("1 visit (front view)" in caption for caption in dash.texts(at.caption))
    report.check(at, "reports")

    monkeypatch.setattr(state, "_analyzer_for", lambda weights_dir: (OneLesionAnalyzer(dash), None))
    at = _page(dash, doctor, "new_visit", patient_id=seeded.patient_id)
    at.file_uploader[0].set_value([("face.png", dash.face_photo_bytes(size=300), "image/png")]).run()
    assert any(text.startswith("1 lesion: 1 inflammatory (of them 0 nodules/cysts")
               for text in dash.texts(at.markdown))
    report.check(at, "new visit, one photo checked")
    dash.widget(at.button, "Save the visit with 1 photo").click().run()
    assert not at.exception
    assert any(text.endswith("saved with 1 photo.") for text in dash.texts(at.success))
    report.check(at, "new visit, saved")

    at = _page(dash, doctor, "visit", patient_id=seeded.patient_id)
    report.check(at, "visit")
    report.assert_clean()
