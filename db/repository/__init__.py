"""Every query of the application, as keyword-only functions whose first argument is `session`.

Patient-scoped functions take `actor` (the signed-in `Account`): reads return None / []
when the actor may not see the patient; writes raise `db.errors.PermissionDenied`.
Writes commit their own transaction and add their audit row to it.
"""
from db.repository.accounts import (
    authenticate,
    change_password,
    count_accounts,
    create_account,
    get_account,
    get_account_by_username,
    hash_password,
    list_accounts,
    update_account,
    verify_password,
)
from db.repository.audit import list_audit, record_audit
from db.repository.integrity import (
    IntegrityReport,
    MissingFile,
    check_integrity,
    repair_integrity,
)
from db.repository.measurements import TimelineRow, patient_timeline
from db.repository.patients import (
    create_patient,
    delete_patient,
    get_patient,
    list_patients,
    update_patient,
)
from db.repository.photos import (
    add_analysis,
    delete_photo,
    find_duplicate_photo,
    get_analysis,
    get_photo,
    latest_analysis,
    list_analyses,
    list_lesions,
    list_photos,
    load_masks,
    load_photo_bytes,
    store_photo,
)
from db.repository.reviews import (
    ReviewQueueEntry,
    add_review,
    list_review_queue,
    list_reviews,
    review_queue_entries,
)
from db.repository.studies import (
    StudyMeasurement,
    add_study_member,
    create_study,
    enrol_patient,
    get_study,
    list_arms,
    list_enrolments,
    list_studies,
    list_study_members,
    study_measurements,
)
from db.repository.treatment import add_treatment_event, list_treatment_events
from db.repository.visits import create_visit, get_visit, list_visits

__all__ = [
    "IntegrityReport",
    "MissingFile",
    "ReviewQueueEntry",
    "StudyMeasurement",
    "TimelineRow",
    "add_analysis",
    "add_review",
    "add_study_member",
    "add_treatment_event",
    "authenticate",
    "change_password",
    "check_integrity",
    "count_accounts",
    "create_account",
    "create_patient",
    "create_study",
    "create_visit",
    "delete_patient",
    "delete_photo",
    "enrol_patient",
    "find_duplicate_photo",
    "get_account",
    "get_account_by_username",
    "get_analysis",
    "get_patient",
    "get_photo",
    "get_study",
    "get_visit",
    "hash_password",
    "latest_analysis",
    "list_accounts",
    "list_analyses",
    "list_arms",
    "list_audit",
    "list_enrolments",
    "list_lesions",
    "list_patients",
    "list_photos",
    "list_review_queue",
    "list_reviews",
    "list_studies",
    "list_study_members",
    "list_treatment_events",
    "list_visits",
    "load_masks",
    "load_photo_bytes",
    "patient_timeline",
    "record_audit",
    "repair_integrity",
    "review_queue_entries",
    "store_photo",
    "study_measurements",
    "update_account",
    "update_patient",
    "verify_password",
]
