"""Initial schema: every table of db/models.py.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-25 19:29:55.360336
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401 - autogenerate writes sqlmodel.sql.sqltypes.AutoString
from alembic import op


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('account',
    sa.Column('username', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('full_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('team', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('password_hash', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint("role IN ('admin', 'clinician', 'researcher')", name=op.f('ck_account_role')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account'))
    )
    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_account_is_active'), ['is_active'], unique=False)
        batch_op.create_index(batch_op.f('ix_account_role'), ['role'], unique=False)
        batch_op.create_index(batch_op.f('ix_account_team'), ['team'], unique=False)
        batch_op.create_index(batch_op.f('ix_account_username'), ['username'], unique=True)

    op.create_table('audit_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('target_type', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=True),
    sa.Column('detail', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.CheckConstraint("action IN ('view', 'create', 'update', 'delete', 'export', 'login', 'login_failed')", name=op.f('ck_audit_event_action')),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_audit_event_account_id_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_event'))
    )
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_event_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_event_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_event_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_event_target_id'), ['target_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_event_target_type'), ['target_type'], unique=False)

    op.create_table('patient',
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('consent_date', sa.Date(), nullable=True),
    sa.Column('skin_type', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True),
    sa.Column('notes', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('team', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint("skin_type IN ('I', 'II', 'III', 'IV', 'V', 'VI')", name=op.f('ck_patient_skin_type')),
    sa.ForeignKeyConstraint(['owner_id'], ['account.id'], name=op.f('fk_patient_owner_id_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patient'))
    )
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patient_code'), ['code'], unique=True)
        batch_op.create_index(batch_op.f('ix_patient_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_patient_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_patient_team'), ['team'], unique=False)

    op.create_table('study',
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('description', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['account.id'], name=op.f('fk_study_created_by_id_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_study'))
    )
    with op.batch_alter_table('study', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_study_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_study_created_by_id'), ['created_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_study_name'), ['name'], unique=True)

    op.create_table('study_arm',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_study_arm_study_id_study')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_study_arm')),
    sa.UniqueConstraint('study_id', 'name', name=op.f('uq_study_arm_study_id_name'))
    )
    with op.batch_alter_table('study_arm', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_study_arm_study_id'), ['study_id'], unique=False)

    op.create_table('study_member',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_study_member_account_id_account')),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_study_member_study_id_study')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_study_member')),
    sa.UniqueConstraint('study_id', 'account_id', name=op.f('uq_study_member_study_id_account_id'))
    )
    with op.batch_alter_table('study_member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_study_member_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_study_member_study_id'), ['study_id'], unique=False)

    op.create_table('treatment_event',
    sa.Column('event_date', sa.Date(), nullable=False),
    sa.Column('description', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_treatment_event_patient_id_patient')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_treatment_event'))
    )
    with op.batch_alter_table('treatment_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_treatment_event_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_treatment_event_event_date'), ['event_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_treatment_event_patient_id'), ['patient_id'], unique=False)

    op.create_table('visit',
    sa.Column('visit_date', sa.Date(), nullable=False),
    sa.Column('treatment_notes', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['account.id'], name=op.f('fk_visit_created_by_id_account')),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_visit_patient_id_patient')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visit'))
    )
    with op.batch_alter_table('visit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_visit_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_visit_created_by_id'), ['created_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_visit_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_visit_visit_date'), ['visit_date'], unique=False)

    op.create_table('enrolment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('arm_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('baseline_visit_id', sa.Integer(), nullable=True),
    sa.Column('enrolled_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['arm_id'], ['study_arm.id'], name=op.f('fk_enrolment_arm_id_study_arm')),
    sa.ForeignKeyConstraint(['baseline_visit_id'], ['visit.id'], name=op.f('fk_enrolment_baseline_visit_id_visit')),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_enrolment_patient_id_patient')),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_enrolment_study_id_study')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enrolment')),
    sa.UniqueConstraint('study_id', 'patient_id', name=op.f('uq_enrolment_study_id_patient_id'))
    )
    with op.batch_alter_table('enrolment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enrolment_arm_id'), ['arm_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enrolment_baseline_visit_id'), ['baseline_visit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enrolment_enrolled_at'), ['enrolled_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_enrolment_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enrolment_study_id'), ['study_id'], unique=False)

    op.create_table('photo',
    sa.Column('view', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('makeup', sa.Boolean(), nullable=True),
    sa.Column('lighting', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('device', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('captured_at', sa.DateTime(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('file_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('upload_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('file_extension', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('filename', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint("view IN ('front', 'left', 'right')", name=op.f('ck_photo_view')),
    sa.ForeignKeyConstraint(['visit_id'], ['visit.id'], name=op.f('fk_photo_visit_id_visit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_photo'))
    )
    with op.batch_alter_table('photo', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_photo_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_photo_file_sha256'), ['file_sha256'], unique=False)
        batch_op.create_index(batch_op.f('ix_photo_upload_sha256'), ['upload_sha256'], unique=False)
        batch_op.create_index(batch_op.f('ix_photo_view'), ['view'], unique=False)
        batch_op.create_index(batch_op.f('ix_photo_visit_id'), ['visit_id'], unique=False)

    op.create_table('analysis',
    sa.Column('model_version', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('comedone', sa.Integer(), nullable=False),
    sa.Column('papule', sa.Integer(), nullable=False),
    sa.Column('pustule', sa.Integer(), nullable=False),
    sa.Column('nodule', sa.Integer(), nullable=False),
    sa.Column('inflammatory', sa.Integer(), nullable=False),
    sa.Column('non_inflammatory', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('lesion_area_fraction', sa.Float(), nullable=False),
    sa.Column('skin_area_px', sa.Integer(), nullable=False),
    sa.Column('grade', sa.Integer(), nullable=False),
    sa.Column('grade_label', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('grade_confidence', sa.Float(), nullable=False),
    sa.Column('grade_source', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('quality_passed', sa.Boolean(), nullable=False),
    sa.Column('quality_reasons', sa.JSON(none_as_null=True), nullable=False),
    sa.Column('quality_metrics', sa.JSON(none_as_null=True), nullable=False),
    sa.Column('face_found', sa.Boolean(), nullable=False),
    sa.Column('face_box', sa.JSON(none_as_null=True), nullable=True),
    sa.Column('landmarks', sa.JSON(none_as_null=True), nullable=True),
    sa.Column('n_faces', sa.Integer(), nullable=False),
    sa.Column('view_estimate', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('alignment', sa.JSON(none_as_null=True), nullable=True),
    sa.Column('region_counts', sa.JSON(none_as_null=True), nullable=False),
    sa.Column('gags_estimate', sa.Integer(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('photo_id', sa.Integer(), nullable=False),
    sa.Column('kind_mask_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('probability_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint('grade >= 0 AND grade <= 3', name=op.f('ck_analysis_grade')),
    sa.ForeignKeyConstraint(['photo_id'], ['photo.id'], name=op.f('fk_analysis_photo_id_photo')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_analysis'))
    )
    with op.batch_alter_table('analysis', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_analysis_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_analysis_grade'), ['grade'], unique=False)
        batch_op.create_index(batch_op.f('ix_analysis_kind_mask_sha256'), ['kind_mask_sha256'], unique=False)
        batch_op.create_index(batch_op.f('ix_analysis_model_version'), ['model_version'], unique=False)
        batch_op.create_index(batch_op.f('ix_analysis_photo_id'), ['photo_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_analysis_probability_sha256'), ['probability_sha256'], unique=False)
        batch_op.create_index(batch_op.f('ix_analysis_quality_passed'), ['quality_passed'], unique=False)

    op.create_table('lesion',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('analysis_id', sa.Integer(), nullable=False),
    sa.Column('x0', sa.Integer(), nullable=False),
    sa.Column('y0', sa.Integer(), nullable=False),
    sa.Column('x1', sa.Integer(), nullable=False),
    sa.Column('y1', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('area_px', sa.Integer(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('region', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.CheckConstraint("kind IN ('comedone', 'papule', 'pustule', 'nodule')", name=op.f('ck_lesion_kind')),
    sa.ForeignKeyConstraint(['analysis_id'], ['analysis.id'], name=op.f('fk_lesion_analysis_id_analysis')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lesion'))
    )
    with op.batch_alter_table('lesion', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lesion_analysis_id'), ['analysis_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lesion_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_lesion_region'), ['region'], unique=False)

    op.create_table('review',
    sa.Column('iga', sa.Integer(), nullable=False),
    sa.Column('grade_override', sa.Integer(), nullable=True),
    sa.Column('notes', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('analysis_id', sa.Integer(), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint('grade_override IS NULL OR (grade_override >= 0 AND grade_override <= 3)', name=op.f('ck_review_grade_override')),
    sa.CheckConstraint('iga >= 0 AND iga <= 4', name=op.f('ck_review_iga')),
    sa.ForeignKeyConstraint(['analysis_id'], ['analysis.id'], name=op.f('fk_review_analysis_id_analysis')),
    sa.ForeignKeyConstraint(['reviewer_id'], ['account.id'], name=op.f('fk_review_reviewer_id_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review'))
    )
    with op.batch_alter_table('review', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_analysis_id'), ['analysis_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_reviewer_id'), ['reviewer_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('review', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_reviewer_id'))
        batch_op.drop_index(batch_op.f('ix_review_created_at'))
        batch_op.drop_index(batch_op.f('ix_review_analysis_id'))

    op.drop_table('review')
    with op.batch_alter_table('lesion', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lesion_region'))
        batch_op.drop_index(batch_op.f('ix_lesion_kind'))
        batch_op.drop_index(batch_op.f('ix_lesion_analysis_id'))

    op.drop_table('lesion')
    with op.batch_alter_table('analysis', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_analysis_quality_passed'))
        batch_op.drop_index(batch_op.f('ix_analysis_probability_sha256'))
        batch_op.drop_index(batch_op.f('ix_analysis_photo_id'))
        batch_op.drop_index(batch_op.f('ix_analysis_model_version'))
        batch_op.drop_index(batch_op.f('ix_analysis_kind_mask_sha256'))
        batch_op.drop_index(batch_op.f('ix_analysis_grade'))
        batch_op.drop_index(batch_op.f('ix_analysis_created_at'))

    op.drop_table('analysis')
    with op.batch_alter_table('photo', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_photo_visit_id'))
        batch_op.drop_index(batch_op.f('ix_photo_view'))
        batch_op.drop_index(batch_op.f('ix_photo_upload_sha256'))
        batch_op.drop_index(batch_op.f('ix_photo_file_sha256'))
        batch_op.drop_index(batch_op.f('ix_photo_created_at'))

    op.drop_table('photo')
    with op.batch_alter_table('enrolment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enrolment_study_id'))
        batch_op.drop_index(batch_op.f('ix_enrolment_patient_id'))
        batch_op.drop_index(batch_op.f('ix_enrolment_enrolled_at'))
        batch_op.drop_index(batch_op.f('ix_enrolment_baseline_visit_id'))
        batch_op.drop_index(batch_op.f('ix_enrolment_arm_id'))

    op.drop_table('enrolment')
    with op.batch_alter_table('visit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_visit_visit_date'))
        batch_op.drop_index(batch_op.f('ix_visit_patient_id'))
        batch_op.drop_index(batch_op.f('ix_visit_created_by_id'))
        batch_op.drop_index(batch_op.f('ix_visit_created_at'))

    op.drop_table('visit')
    with op.batch_alter_table('treatment_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_treatment_event_patient_id'))
        batch_op.drop_index(batch_op.f('ix_treatment_event_event_date'))
        batch_op.drop_index(batch_op.f('ix_treatment_event_created_at'))

    op.drop_table('treatment_event')
    with op.batch_alter_table('study_member', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_study_member_study_id'))
        batch_op.drop_index(batch_op.f('ix_study_member_account_id'))

    op.drop_table('study_member')
    with op.batch_alter_table('study_arm', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_study_arm_study_id'))

    op.drop_table('study_arm')
    with op.batch_alter_table('study', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_study_name'))
        batch_op.drop_index(batch_op.f('ix_study_created_by_id'))
        batch_op.drop_index(batch_op.f('ix_study_created_at'))

    op.drop_table('study')
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patient_team'))
        batch_op.drop_index(batch_op.f('ix_patient_owner_id'))
        batch_op.drop_index(batch_op.f('ix_patient_created_at'))
        batch_op.drop_index(batch_op.f('ix_patient_code'))

    op.drop_table('patient')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_event_target_type'))
        batch_op.drop_index(batch_op.f('ix_audit_event_target_id'))
        batch_op.drop_index(batch_op.f('ix_audit_event_at'))
        batch_op.drop_index(batch_op.f('ix_audit_event_action'))
        batch_op.drop_index(batch_op.f('ix_audit_event_account_id'))

    op.drop_table('audit_event')
    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_account_username'))
        batch_op.drop_index(batch_op.f('ix_account_team'))
        batch_op.drop_index(batch_op.f('ix_account_role'))
        batch_op.drop_index(batch_op.f('ix_account_is_active'))
        batch_op.drop_index(batch_op.f('ix_account_created_at'))

    op.drop_table('account')
