"""A stored photo with its masks, and re-analysis (usecases.photos)."""
from __future__ import annotations

import pytest

from usecases.photos import StoredPhotoError, load_stored_photo, reanalyse_photo


class Analyzer:
    model_version = "second look 2.0"

    def __init__(self, dash) -> None:  # noqa: ANN001
        self.dash = dash

    def analyze(self, photo):  # noqa: ANN001, ANN201
        return self.dash.sample_analysis(photo, model_version=self.model_version)


def test_a_stored_photo_comes_with_its_masks(stored) -> None:  # noqa: ANN001
    clinic, _doctor, row, analysis, _patient = stored
    loaded = load_stored_photo(clinic, row, analysis)
    assert loaded.image.shape == (row.height, row.width, 3)
    assert loaded.kind_mask is not None and loaded.kind_mask.shape == loaded.image.shape[:2]
    assert loaded.kind_mask.any()
    assert load_stored_photo(clinic, row, None).kind_mask is None

    clinic.photo_store.path_for(row.file_sha256, row.file_extension).write_bytes(b"bit rot")
    with pytest.raises(StoredPhotoError, match=r"The stored file of this photo cannot be read"):
        load_stored_photo(clinic, row, analysis)


def test_reanalysis_adds_an_analysis_and_keeps_the_first(dash, stored) -> None:  # noqa: ANN001
    from db.errors import NotFound, PermissionDenied
    from db.repository import list_analyses

    clinic, doctor, row, first, _patient = stored
    added = reanalyse_photo(clinic, doctor, photo_id=row.id, analyzer=Analyzer(dash))
    with clinic.session() as session:
        history = list_analyses(session=session, actor=doctor, photo_id=row.id)
    assert [a.id for a in history] == [first.id, added.id]
    assert added.model_version == "second look 2.0"

    stranger = dash.get_account(dash.make_account("other", team="elsewhere"))
    with pytest.raises(NotFound):
        reanalyse_photo(clinic, stranger, photo_id=row.id, analyzer=Analyzer(dash))
    researcher = dash.get_account(dash.make_account("res", role="researcher"))
    with pytest.raises((NotFound, PermissionDenied)):
        reanalyse_photo(clinic, researcher, photo_id=row.id, analyzer=Analyzer(dash))
