"""Timeline rows (as `patient_timeline` gives them) for the dashboard/charts unit tests."""
from __future__ import annotations


def timeline_row(visit_id, when, photo_id, *, view="front", counts=(0, 0, 0, 0), area=0.0,
                 grade=0, confidence=1.0, passed=True, iga=None, override=None, analysed=True):
    comedone, papule, pustule, nodule = counts
    return {
        "visit_id": visit_id, "visit_date": when, "photo_id": photo_id, "view": view,
        "analysis_id": photo_id * 10 if analysed else None,
        "comedone": comedone, "papule": papule, "pustule": pustule, "nodule": nodule,
        "inflammatory_type_uncertain": 0,
        "inflammatory": papule + pustule + nodule, "non_inflammatory": comedone,
        "total": comedone + papule + pustule + nodule, "lesion_area_fraction": area,
        "grade": grade, "grade_confidence": confidence, "quality_passed": passed,
        "review_iga": iga, "review_grade_override": override, "model_version": "m1",
    }
