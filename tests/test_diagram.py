"""The workflow drawn for people: a step bar on every application, the whole diagram as a static drawing that
is made again whenever the trigger table changes (no diagram script sent to anyone)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kxflow.workflow.diagram import MAIN_PATH, source_digest, steps, svg_name
from kxflow.workflow.states import State
from tests.web_support import Browser

STATIC = Path(__file__).resolve().parent.parent / "kxflow" / "static"


@pytest.mark.parametrize("locale", ["zh", "en"])
def test_the_drawing_is_of_the_current_trigger_table(locale):
    drawing = (STATIC / svg_name(locale)).read_text(encoding="utf-8")
    assert f"drawn from source {source_digest(locale)}" in drawing.splitlines()[0], (
        "the trigger table changed: run `make diagram` to draw the workflow again"
    )
    assert "<svg" in drawing and "<script" not in drawing
    assert ("Designate" if locale == "en" else "专家评审") in drawing


def test_steps_along_the_main_path_and_off_it():
    bar = steps(State.EXPERT_REVIEW, [State.DRAFT, State.COUNTY_REVIEW])
    assert [s.status for s in bar] == ["done"] * 4 + ["current"] + ["todo"] * 3
    assert [s.state for s in bar] == list(MAIN_PATH)
    rejected = steps(State.REJECTED, [State.DRAFT, State.COUNTY_REVIEW, State.PROVINCE_REVIEW])
    assert [(s.state, s.status) for s in rejected[-2:]] == [(State.PROVINCE_REVIEW, "done"), (State.REJECTED, "ended")]
    revoked = steps(State.REVOKED, [*MAIN_PATH, State.RECTIFICATION])
    assert [(s.state, s.status) for s in revoked[-3:]] == [
        (State.DESIGNATED, "done"),
        (State.RECTIFICATION, "done"),
        (State.REVOKED, "ended"),
    ]


def test_the_application_page_shows_the_step_bar_and_no_diagram_script(world, app):
    app_id = world.new_application()
    world.walk(app_id, ("submit", "zj_staff"), ("county_approve", "zj_leader"))
    page = Browser(app, "zj_reviewer").text(f"/applications/{app_id}")
    assert 'class="step current" aria-current="step"' in page
    current = page.split('aria-current="step"')[1].split("</li>")[0]
    assert "省级审核" in current
    assert "mermaid" not in page
    assert 'src="/static/workflow/workflow-zh.svg"' in page
    assert Browser(app, "zj_reviewer", lang="en").text(f"/applications/{app_id}").count("workflow-en.svg") == 1
