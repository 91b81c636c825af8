"""NPS scores and rating comments (feedback.yml), and the indexes the insights dashboard's periods read by.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# every dashboard figure is a GROUP BY over one period of one of these tables
PERIOD_INDEXES = (('handoffs', 'created_at'), ('tickets', 'created_at'), ('csat_ratings', 'at'), ('knowledge_events', 'at'))


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('nps_scores',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('conversation_id', sa.String(length=255), nullable=False),
    sa.Column('handoff_id', sa.Integer(), nullable=True),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('nps_scores', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_nps_scores_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_nps_scores_conversation_id'), ['conversation_id'], unique=False)

    op.create_table('feedback_comments',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('conversation_id', sa.String(length=255), nullable=False),
    sa.Column('survey', sa.String(length=8), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('feedback_comments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feedback_comments_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_feedback_comments_conversation_id'), ['conversation_id'], unique=False)

    for table, column in PERIOD_INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(f'ix_{table}_{column}'), [column], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    for table, column in reversed(PERIOD_INDEXES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f'ix_{table}_{column}'))
    with op.batch_alter_table('feedback_comments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feedback_comments_conversation_id'))
        batch_op.drop_index(batch_op.f('ix_feedback_comments_at'))
    op.drop_table('feedback_comments')
    with op.batch_alter_table('nps_scores', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_nps_scores_conversation_id'))
        batch_op.drop_index(batch_op.f('ix_nps_scores_at'))
    op.drop_table('nps_scores')
