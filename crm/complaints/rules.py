"""The configured complaint rules: time limits, the working calendar, the departments."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from crm.complaints.time_limits import Limits
from crm.settings import Settings
from crm.work_calendar import WorkCalendar, load_calendar

# What a complaint is about; the first four are the callback's satisfaction areas.
CATEGORIES = (
    "quality",
    "crew",
    "supervisor",
    "designer",
    "materials",
    "schedule",
    "service",
    "price",
    "other",
)


@dataclass(frozen=True, slots=True)
class ComplaintRules:
    limits: Limits
    calendar: WorkCalendar
    tz: ZoneInfo
    departments: tuple[str, ...]
    area_departments: Mapping[str, str]
    repair_arrival: timedelta

    @classmethod
    def of(cls, settings: Settings, calendar: WorkCalendar | None = None) -> ComplaintRules:
        hours = timedelta(hours=1)
        limits = Limits(
            signed=settings.complaint_sign_hours * hours,
            verified=settings.complaint_verify_hours * hours,
            solution=settings.complaint_solution_hours * hours,
            resolved=settings.complaint_resolve_hours * hours,
            major_on_site_working_days=settings.complaint_major_on_site_working_days,
            callback=settings.complaint_callback_hours * hours,
            due_soon=settings.due_soon_fraction,
        )
        return cls(
            limits=limits,
            calendar=calendar or load_calendar(settings.holidays_path),
            tz=settings.tz,
            departments=tuple(settings.departments),
            area_departments=dict(settings.area_departments),
            repair_arrival=settings.repair_arrival_hours * hours,
        )
