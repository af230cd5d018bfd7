"""The roles of the programme and the scope each one works in."""

from __future__ import annotations

from enum import StrEnum

from flask_babel import lazy_gettext as _l


class Role(StrEnum):
    COUNTY_STAFF = "county_staff"
    COUNTY_LEADER = "county_leader"
    PROVINCE_REVIEWER = "province_reviewer"
    MINISTRY_STAFF = "ministry_staff"
    EXPERT = "expert"
    ADMIN = "admin"


COUNTY_ROLES = frozenset({Role.COUNTY_STAFF, Role.COUNTY_LEADER})

ROLE_LABELS = {
    Role.COUNTY_STAFF: _l("County S&T bureau clerk"),
    Role.COUNTY_LEADER: _l("County government leader"),
    Role.PROVINCE_REVIEWER: _l("Provincial S&T department reviewer"),
    Role.MINISTRY_STAFF: _l("Ministry of Science and Technology staff"),
    Role.EXPERT: _l("Expert"),
    Role.ADMIN: _l("System administrator"),
}
