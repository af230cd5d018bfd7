"""The application page's extension point: features that own a part of an application (its panel, its
inspections, its objections) add a section to the page without the applications feature knowing them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kxflow.accounts.models import User
from kxflow.workflow.models import Application

Context = Callable[[User, Application], dict[str, Any] | None]


@dataclass(frozen=True)
class Section:
    template: str
    order: int
    context: Context  # None: the section is not for this user; a "show": False entry keeps only its facts


SECTIONS: list[Section] = []


def detail_section(template: str, order: int) -> Callable[[Context], Context]:
    """``@detail_section("experts/_panel.html", 10)`` on a function giving the section's context."""

    def register(fn: Context) -> Context:
        SECTIONS.append(Section(template, order, fn))
        SECTIONS.sort(key=lambda s: s.order)
        return fn

    return register


def sections_for(user: User, app: Application) -> tuple[list[str], dict[str, Any]]:
    """The templates to include, in order, and the facts they (and the page's header) read."""
    templates: list[str] = []
    facts: dict[str, Any] = {}
    for section in SECTIONS:
        context = section.context(user, app)
        if context is None:
            continue
        if context.pop("show", True):
            templates.append(section.template)
        facts.update(context)
    return templates, facts
