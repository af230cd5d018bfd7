"""What an expert may see: the applications they are assigned to and have not stepped aside from."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.sql.elements import ColumnElement

from kxflow.accounts.models import User
from kxflow.accounts.roles import Role
from kxflow.experts.models import Assignment
from kxflow.workflow.models import Application
from kxflow.workflow.scope import visibility_rule


@visibility_rule(Role.EXPERT)
def assigned(user: User) -> ColumnElement[bool]:
    return Application.id.in_(
        select(Assignment.application_id).where(Assignment.expert_id == user.id, Assignment.recused_at.is_(None))
    )
