"""complaints name their call-back task; callback tasks no longer name a complaint

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-11 09:00:00+00:00

A complaint's call back was a callback task carrying the complaint twice, in `complaint_id`
and in `month` (so that the schedule's unique (project, stage, month) let two complaints of a
project have their own task), and `callback_tasks.complaint_id` closed a foreign-key cycle
(complaints → callback_attempts → callback_tasks → complaints). Now the complaint points at its
task (`complaints.callback_task_id`, unique), `month` is 0 on a complaint's task, and the
schedule's uniqueness covers scheduled stages only (a partial unique index).

`callback_tasks.complaint_id` stays, without its foreign key (which closed the cycle), for
one release: the previous release's web processes, still running while they are replaced one
at a time, find and create a complaint's call back by it (README: Upgrades). This release
writes it too and reads it for the tasks those processes create; the next release's
migration copies what is left into `complaints.callback_task_id` and drops it.

On SQLite the two tables are copied (batch mode); migrations/env.py turns foreign-key
enforcement off for the run and checks every key before committing.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEDULED = sa.text("stage != 'complaint'")


def upgrade() -> None:
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("callback_task_id", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_complaints_callback_task_id"), ["callback_task_id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_complaints_callback_task_id_callback_tasks"),
            "callback_tasks",
            ["callback_task_id"],
            ["id"],
            ondelete="RESTRICT",
        )
    op.execute(
        "UPDATE complaints SET callback_task_id = (SELECT min(t.id) FROM callback_tasks t "
        "WHERE t.complaint_id = complaints.id)"
    )
    with op.batch_alter_table("callback_tasks", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_callback_tasks_complaint_id_complaints"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("uq_callback_tasks_project_id_stage_month"), type_="unique"
        )
    op.execute("UPDATE callback_tasks SET month = 0 WHERE stage = 'complaint'")
    op.create_index(
        "uq_callback_tasks_scheduled",
        "callback_tasks",
        ["project_id", "stage", "month"],
        unique=True,
        sqlite_where=SCHEDULED,
        postgresql_where=SCHEDULED,
    )


def downgrade() -> None:
    op.drop_index("uq_callback_tasks_scheduled", table_name="callback_tasks")
    with op.batch_alter_table("callback_tasks", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_callback_tasks_complaint_id_complaints"),
            "complaints",
            ["complaint_id"],
            ["id"],
        )
    op.execute(  # a task the previous release made names its complaint already
        "UPDATE callback_tasks SET complaint_id = COALESCE((SELECT c.id FROM complaints c "
        "WHERE c.callback_task_id = callback_tasks.id), complaint_id)"
    )
    op.execute(
        "UPDATE callback_tasks SET month = complaint_id "
        "WHERE stage = 'complaint' AND complaint_id IS NOT NULL"
    )
    with op.batch_alter_table("callback_tasks", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            batch_op.f("uq_callback_tasks_project_id_stage_month"),
            ["project_id", "stage", "month"],
        )
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_complaints_callback_task_id_callback_tasks"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("uq_complaints_callback_task_id"), type_="unique")
        batch_op.drop_column("callback_task_id")
