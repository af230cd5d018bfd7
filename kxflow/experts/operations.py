"""The rules of expert review: who may sit on a panel, proposing a balanced one, 加签, 回避, scoring, the aggregate.

An expert is refused for an application when they come from its county's province, declared a
conflict with its county or province, or already sit on its panel. Scores can be changed until
the review closes (the application leaves ``expert_review``). The aggregate is the weighted mean
of the experts' totals; a spread wider than the call's gap flags the panel as conflicting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask_babel import get_locale, gettext
from sqlalchemy import delete, func, or_, select

from kxflow.accounts.models import User
from kxflow.accounts.operations import create_user
from kxflow.accounts.roles import Role
from kxflow.core import clock, limits
from kxflow.core.db import db
from kxflow.core.errors import Conflict, Forbidden, Invalid, NotFound
from kxflow.core.paging import Page, paginate
from kxflow.experts.models import Assignment, ExpertConflict, ExpertProfile
from kxflow.indicators.models import definition_for
from kxflow.notifications.operations import active_ids, notify_users
from kxflow.regions.models import County, Province
from kxflow.workflow import audit as audit_trail
from kxflow.workflow.conflicts import conflict_rule
from kxflow.workflow.models import Application
from kxflow.workflow.scope import get_application
from kxflow.workflow.states import BEFORE_MINISTRY, PANEL_STATES, State


def sees_panel(user: User, app: Application) -> bool:
    """Ministry staff and the panel's experts see the panel once the application has reached the ministry."""
    return user.role in (Role.MINISTRY_STAFF, Role.EXPERT) and app.state not in BEFORE_MINISTRY


def can_seat(user: User, app: Application) -> bool:
    return user.role == Role.MINISTRY_STAFF and app.state in PANEL_STATES


def scoring_status(app: Application) -> str:
    """ "open" during expert review (the panel is formed then, after the formal review), else "closed"."""
    return "open" if app.state == State.EXPERT_REVIEW else "closed"


def can_recuse(app: Application) -> bool:
    """An expert may step aside while the review is open."""
    return app.state in PANEL_STATES


def keeps_pool(user: User) -> bool:
    return user.role == Role.MINISTRY_STAFF


def is_expert(user: User) -> bool:
    return user.role == Role.EXPERT


def _require_ministry(user: User) -> None:
    if user.role != Role.MINISTRY_STAFF:
        raise Forbidden()


def _name(user: User) -> str:
    return user.display_name or user.username


# --- the pool --------------------------------------------------------------------------------


def set_profile(
    user: User, expert_id: int, *, field_name: str, conflicts: list[dict[str, str]], **contact: str
) -> ExpertProfile:
    """An expert's field and declared conflicts (ministry staff or administrators keep the pool)."""
    if user.role not in (Role.MINISTRY_STAFF, Role.ADMIN):
        raise Forbidden()
    expert = db.session.get(User, expert_id)
    if expert is None or expert.role != Role.EXPERT:
        raise NotFound()
    problems = []
    for item in conflicts:
        county, province = item.get("county_code"), item.get("province_code")
        if bool(county) == bool(province):
            problems.append(gettext("Each conflict names one county or one province."))
        elif county and db.session.get(County, county) is None:
            problems.append(gettext("No county with code %(code)s.", code=county))
        elif province and db.session.get(Province, province) is None:
            problems.append(gettext("No province with code %(code)s.", code=province))
    if problems:
        raise Invalid(fields={"conflicts": problems})
    profile = db.session.get(ExpertProfile, expert_id) or ExpertProfile(user_id=expert_id)
    profile.field = field_name.strip()[:80]
    for name, length in (("organisation", 120), ("title", 40), ("phone", 40)):
        if name in contact:
            setattr(profile, name, (contact[name] or "").strip()[:length])
    if "email" in contact:
        expert.email = (contact["email"] or "").strip() or None
    db.session.add(profile)
    # the ORM's DELETE, not the table's: it also drops the expert's conflicts the session holds, whose ids a new row
    # may take again (SQLite reuses them), which would otherwise clash in the session's identity map
    db.session.execute(delete(ExpertConflict).where(ExpertConflict.user_id == expert_id))
    seen = set()
    for item in conflicts:
        key = (item.get("county_code") or None, item.get("province_code") or None)
        if key not in seen:
            seen.add(key)
            db.session.add(
                ExpertConflict(
                    user_id=expert_id, county_code=key[0], province_code=key[1], reason=item.get("reason", "")[:200]
                )
            )
    db.session.flush()
    return profile


@dataclass
class PoolEntry:
    expert: User
    profile: ExpertProfile | None
    load: int
    conflicts: list[ExpertConflict]

    @property
    def field(self) -> str:
        return self.profile.field if self.profile else ""


def _loads() -> dict[int, int]:
    rows = db.session.execute(
        select(Assignment.expert_id, func.count(Assignment.id))
        .join(Application, Application.id == Assignment.application_id)
        .where(Assignment.recused_at.is_(None), Application.state.in_(PANEL_STATES))
        .group_by(Assignment.expert_id)
    )
    return dict(rows.all())


def pool(user: User, *, q: str | None = None, province: str | None = None, page: int = 1, per_page: int = 30) -> Page:
    """One page of the expert pool, searched by name, unit, field or title, filtered by province."""
    _require_ministry(user)
    stmt = (
        select(User)
        .outerjoin(ExpertProfile, ExpertProfile.user_id == User.id)
        .where(User.role == Role.EXPERT)
        .order_by(User.province_code, User.id)
    )
    if province:
        stmt = stmt.where(User.province_code == province)
    if q:
        like = f"%{q.strip()}%"
        stmt = stmt.where(
            or_(
                User.display_name.ilike(like),
                User.username.ilike(like),
                ExpertProfile.field.ilike(like),
                ExpertProfile.organisation.ilike(like),
                ExpertProfile.title.ilike(like),
            )
        )
    result = paginate(stmt, page, per_page)
    ids = [e.id for e in result.items] or [-1]
    profiles = {p.user_id: p for p in db.session.scalars(select(ExpertProfile).where(ExpertProfile.user_id.in_(ids)))}
    conflicts: dict[int, list[ExpertConflict]] = {}
    for c in db.session.scalars(
        select(ExpertConflict).where(ExpertConflict.user_id.in_(ids)).order_by(ExpertConflict.id)
    ):
        conflicts.setdefault(c.user_id, []).append(c)
    loads = _loads()
    result.items = [PoolEntry(e, profiles.get(e.id), loads.get(e.id, 0), conflicts.get(e.id, [])) for e in result.items]
    return result


def pool_entry(user: User, expert_id: int) -> PoolEntry:
    _require_ministry(user)
    expert = db.session.get(User, expert_id)
    if expert is None or expert.role != Role.EXPERT:
        raise NotFound()
    conflicts = list(
        db.session.scalars(
            select(ExpertConflict).where(ExpertConflict.user_id == expert_id).order_by(ExpertConflict.id)
        )
    )
    return PoolEntry(expert, db.session.get(ExpertProfile, expert_id), _loads().get(expert_id, 0), conflicts)


def add_expert(user: User, **fields: Any) -> User:
    """Ministry staff add an expert to the pool: an expert account (their province) and its profile."""
    _require_ministry(user)
    expert = create_user(
        username=fields["username"],
        password=fields["password"],
        role=Role.EXPERT,
        province_code=fields.get("province_code") or None,
        email=fields.get("email") or None,
        display_name=fields.get("display_name") or "",
    )
    db.session.add(
        ExpertProfile(
            user_id=expert.id,
            field=(fields.get("field") or "").strip()[:80],
            organisation=(fields.get("organisation") or "").strip()[:120],
            title=(fields.get("title") or "").strip()[:40],
            phone=(fields.get("phone") or "").strip()[:40],
        )
    )
    db.session.flush()
    return expert


# --- eligibility and panels ----------------------------------------------------------------------


def refusal(expert: User, app: Application) -> str | None:
    """Why this expert may not review this application, or None."""
    if expert.role != Role.EXPERT or not expert.active:
        return gettext("%(name)s is not an active expert.", name=_name(expert))
    if expert.province_code == app.province_code:
        return gettext("%(name)s comes from the county's own province.", name=_name(expert))
    declared = db.session.scalar(
        select(ExpertConflict.id).where(
            ExpertConflict.user_id == expert.id,
            or_(ExpertConflict.county_code == app.county_code, ExpertConflict.province_code == app.province_code),
        )
    )
    if declared is not None:
        return gettext("%(name)s has declared a conflict of interest with this county.", name=_name(expert))
    return None


@conflict_rule
def _team_member_conflict(user: User, app: Application) -> str | None:
    """An expert on an inspection team passes the same rules as on a panel (ministry staff have no province)."""
    return refusal(user, app) if user.role == Role.EXPERT else None


def _eligible_query(app: Application):
    on_panel = select(Assignment.expert_id).where(Assignment.application_id == app.id)
    conflicted = select(ExpertConflict.user_id).where(
        or_(ExpertConflict.county_code == app.county_code, ExpertConflict.province_code == app.province_code)
    )
    return select(User).where(
        User.role == Role.EXPERT,
        User.active.is_(True),
        User.province_code != app.province_code,
        User.id.not_in(on_panel),
        User.id.not_in(conflicted),
    )


def propose(user: User, application_id: int, size: int | None = None) -> list[User]:
    """A panel for this application: eligible experts with the lightest current load first (writes nothing)."""
    _require_ministry(user)
    app = get_application(user, application_id)
    wanted = size if size is not None else max(app.call.min_experts - len(active_assignments(app.id)), 0)
    loads = _loads()
    candidates = db.session.scalars(_eligible_query(app)).all()
    ranked = sorted(candidates, key=lambda e: (loads.get(e.id, 0), e.id))
    return ranked[:wanted]


def active_assignments(application_id: int) -> list[Assignment]:
    return list(
        db.session.scalars(
            select(Assignment)
            .where(Assignment.application_id == application_id, Assignment.recused_at.is_(None))
            .order_by(Assignment.id)
        )
    )


def assign(
    user: User, application_id: int, expert_ids: list[int] | None = None, *, auto: bool = False, weight: float = 1.0
) -> list[Assignment]:
    """Puts experts on the panel (named, or proposed with ``auto``); 加签 once the review has begun."""
    _require_ministry(user)
    app = get_application(user, application_id, for_update=True)
    if app.state not in PANEL_STATES:
        raise Conflict(
            gettext("The panel is formed in expert review, once the formal review has passed."), state=app.state
        )
    if auto:
        seated_now = len(active_assignments(app.id))
        if seated_now >= app.call.min_experts:
            raise Invalid(
                fields={
                    "expert_ids": [
                        gettext(
                            "The panel already has %(n)s experts, the call's minimum. To add one more (加签), "
                            "choose them from the list.",
                            n=seated_now,
                        )
                    ]
                }
            )
        experts = propose(user, app.id)
        if not experts:
            raise Invalid(fields={"expert_ids": [gettext("No eligible expert is left in the pool.")]})
    else:
        ids = list(dict.fromkeys(expert_ids or []))
        experts = list(db.session.scalars(select(User).where(User.id.in_(ids or [-1])).order_by(User.id)))
        if not ids or len(experts) != len(ids):
            raise Invalid(fields={"expert_ids": [gettext("Name one or more existing experts.")]})
        seated = {
            a.expert_id for a in db.session.scalars(select(Assignment).where(Assignment.application_id == app.id))
        }
        problems = [gettext("%(name)s is already on this panel.", name=_name(e)) for e in experts if e.id in seated]
        problems += [reason for e in experts if (reason := refusal(e, app))]
        if problems:
            raise Invalid(fields={"expert_ids": problems})
    now = clock.now()
    late = len(active_assignments(app.id)) >= app.call.min_experts  # 加签: the panel was complete already
    rows = [
        Assignment(
            application_id=app.id,
            expert_id=e.id,
            weight=weight,
            assigned_by_id=user.id,
            assigned_at=now,
            added_late=late,
        )
        for e in experts
    ]
    db.session.add_all(rows)
    app.updated_at = now  # bumps the version: of two panels seated at once, the second is told (SQLite too)
    db.session.flush()
    for e, row in zip(experts, rows, strict=True):
        audit_trail.append(
            app,
            user,
            "panel_seat",
            from_state=app.state,
            at=now,
            comment=_name(e) + (gettext(" (加签)") if late else ""),
            snapshot={"assignment_id": row.id, "expert_id": e.id, "weight": weight},
        )
    notify_users(
        [e.id for e in experts],
        application_id=app.id,
        event="expert_assigned",
        params={"county": app.county.name},
        dedupe_prefix=f"assigned:{app.id}:{rows[0].id}",
    )
    return rows


def _own_assignment(user: User, assignment_id: int, *, for_update: bool = False) -> Assignment:
    stmt = select(Assignment).where(
        Assignment.id == assignment_id, Assignment.expert_id == user.id, Assignment.recused_at.is_(None)
    )
    if for_update:
        stmt = stmt.with_for_update(of=Assignment)
    row = db.session.scalars(stmt).first()
    if row is None:
        raise NotFound()
    return row


def recuse(user: User, assignment_id: int, reason: str) -> Assignment:
    """回避: the expert steps aside; the conflict is recorded and ministry staff are asked for a replacement."""
    limits.require_length("reason", reason, limits.RECUSAL_REASON)
    if user.role != Role.EXPERT:
        raise Forbidden()
    row = _own_assignment(user, assignment_id, for_update=True)
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(fields={"reason": [gettext("This field is required.")]})
    app = db.session.get(Application, row.application_id)
    if not can_recuse(app):
        raise Conflict(gettext("The review has closed."), state=app.state)
    now = clock.now()
    row.recused_at = now
    row.recusal_reason = reason[:500]
    exists = db.session.scalar(
        select(ExpertConflict.id).where(
            ExpertConflict.user_id == user.id, ExpertConflict.county_code == app.county_code
        )
    )
    if exists is None:
        db.session.add(ExpertConflict(user_id=user.id, county_code=app.county_code, reason=reason[:200]))
    audit_trail.append(
        app,
        user,
        "panel_recusal",
        from_state=app.state,
        at=now,
        comment=row.recusal_reason,
        snapshot={"assignment_id": row.id, "expert_id": user.id},
    )
    notify_users(
        active_ids(Role.MINISTRY_STAFF),
        application_id=app.id,
        event="expert_recused",
        params={"county": app.county.name, "expert": _name(user), "reason": row.recusal_reason},
        dedupe_prefix=f"recused:{row.id}",
    )
    db.session.flush()
    return row


MINE_STATUSES = ("to_score", "scored", "closed")


def _mine(user: User, q: str | None = None, status: str | None = None):
    if user.role != Role.EXPERT:
        raise Forbidden()
    stmt = (
        select(Assignment, Application)
        .join(Application, Application.id == Assignment.application_id)
        .where(Assignment.expert_id == user.id, Assignment.recused_at.is_(None))
        .order_by(Assignment.assigned_at.desc(), Assignment.id.desc())
    )
    if q:
        stmt = stmt.join(County, County.code == Application.county_code).where(County.name.ilike(f"%{q}%"))
    open_ = Application.state == State.EXPERT_REVIEW
    if status == "to_score":
        stmt = stmt.where(open_, Assignment.scored_at.is_(None))
    elif status == "scored":
        stmt = stmt.where(open_, Assignment.scored_at.is_not(None))
    elif status == "closed":
        stmt = stmt.where(Application.state != State.EXPERT_REVIEW)
    return stmt


def mine(user: User) -> list[tuple[Assignment, Application]]:
    """An expert's assignments (not those they stepped aside from), newest first."""
    return [(a, app) for a, app in db.session.execute(_mine(user)).all()]


def search_mine(user: User, *, q: str | None, status: str | None, page: int) -> Page:
    """我的评审 as a paged list: by county name, and still to score, scored while open, or closed."""
    return paginate(_mine(user, q, status), page)


def get_own(user: User, assignment_id: int) -> Assignment:
    if user.role != Role.EXPERT:
        raise Forbidden()
    return _own_assignment(user, assignment_id)


def score(
    user: User, assignment_id: int, scores: dict[str, Any], comment: str | None, veto_failed: list[str] | None = None
) -> Assignment:
    """Scores every scoring item (0 to its maximum) with a comment; may be changed until the review closes."""
    limits.require_length("comment", comment, limits.SCORE_COMMENT)
    if user.role != Role.EXPERT:
        raise Forbidden()
    row = _own_assignment(user, assignment_id, for_update=True)
    app = db.session.get(Application, row.application_id)
    if scoring_status(app) != "open":
        raise Conflict(gettext("Scores can only be given or changed while the expert review is open."), state=app.state)
    definition = definition_for(app.call.indicator_set_version)
    locale = str(get_locale() or "zh")
    fields: dict[str, list[str]] = {}
    clean: dict[str, float] = {}
    for item in definition.scored:
        value = scores.get(item.key)
        key = f"scores.{item.key}"
        if value is None or value == "":
            fields[key] = [gettext("Score %(label)s.", label=item.label(locale))]
            continue
        try:
            points = float(value)
        except (TypeError, ValueError):
            fields[key] = [gettext("Not a number.")]
            continue
        if not 0 <= points <= item.weight:
            fields[key] = [gettext("Must be between %(min)s and %(max)s.", min=0, max=f"{item.weight:g}")]
        else:
            clean[item.key] = points
    unknown = set(scores) - {i.key for i in definition.scored}
    if unknown:
        fields["scores"] = [gettext("Not a scoring item: %(keys)s.", keys=", ".join(sorted(unknown)))]
    veto_keys = {i.key for i in (*definition.inputs, *definition.computed) if i.veto}
    veto_failed = list(dict.fromkeys(veto_failed or []))
    if not_veto := sorted(set(veto_failed) - veto_keys):
        fields["veto_failed"] = [gettext("Not a veto item: %(keys)s.", keys=", ".join(not_veto))]
    if not (comment or "").strip():
        fields["comment"] = [gettext("This field is required.")]
    if fields:
        raise Invalid(fields=fields)
    before = {"scores": row.scores, "veto_failed": row.veto_failed} if row.scores is not None else None
    now = clock.now()
    row.scores = clean
    row.veto_failed = veto_failed
    row.comment = comment.strip()
    row.scored_at = now
    audit_trail.append(
        app,
        user,
        "score" if before is None else "score_change",
        from_state=app.state,
        at=now,
        comment=row.comment,
        snapshot={
            "assignment_id": row.id,
            "total": row.total,
            "scores": clean,
            "veto_failed": veto_failed,
            "before": before,
        },
    )
    db.session.flush()
    return row


# --- the aggregate -----------------------------------------------------------------------------


@dataclass
class Aggregate:
    experts: int
    scored: int
    weighted_mean: float | None
    spread: float | None
    conflicting: bool
    veto_failures: list[str] = field(default_factory=list)  # from the figures, or found by an expert in the evidence

    @property
    def complete(self) -> bool:
        return self.experts > 0 and self.scored == self.experts


def aggregate(app: Application, assignments: list[Assignment] | None = None) -> Aggregate:
    rows = assignments if assignments is not None else active_assignments(app.id)
    done = [a for a in rows if a.scores is not None]
    vetoes = list(dict.fromkeys([*(app.veto_failures or []), *(k for a in done for k in a.veto_failed)]))
    if not done:
        return Aggregate(len(rows), 0, None, None, False, vetoes)
    totals = [a.total for a in done]
    mean = sum(a.total * a.weight for a in done) / sum(a.weight for a in done)
    spread = round(max(totals) - min(totals), 2)
    return Aggregate(len(rows), len(done), round(mean, 2), spread, spread > app.call.score_gap, vetoes)


def sees_panel_scores(user: User) -> bool:
    """Only ministry staff read a panel's aggregate (an expert sees their own scores, a province none)."""
    return user.role == Role.MINISTRY_STAFF


def panel_scores(apps: list[Application]) -> dict[int, float | None]:
    """Each application's panel score (the weighted mean of its seated experts' totals, as ``aggregate``), the
    panels of all of them read in one query; None where no expert has scored yet."""
    ids = [a.id for a in apps]
    seated: dict[int, list[Assignment]] = {i: [] for i in ids}
    if ids:
        stmt = (
            select(Assignment)
            .where(Assignment.application_id.in_(ids), Assignment.recused_at.is_(None))
            .order_by(Assignment.id)
        )
        for row in db.session.scalars(stmt):
            seated[row.application_id].append(row)
    return {a.id: aggregate(a, seated[a.id]).weighted_mean for a in apps}


def panel(user: User, application_id: int) -> tuple[Application, list[Assignment], Aggregate | None]:
    """The panel as this user may see it: ministry staff all of it; an expert only their own assignment."""
    app = get_application(user, application_id)
    stmt = select(Assignment).where(Assignment.application_id == app.id).order_by(Assignment.id)
    if user.role == Role.EXPERT:
        stmt = stmt.where(Assignment.expert_id == user.id)
    elif user.role != Role.MINISTRY_STAFF:
        raise Forbidden()
    rows = list(db.session.scalars(stmt))
    seated = [r for r in rows if r.recused_at is None]
    summary = aggregate(app, seated) if user.role == Role.MINISTRY_STAFF else None
    return app, rows, summary
