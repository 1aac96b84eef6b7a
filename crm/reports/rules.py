"""What a report needs to know besides the data: the zone, the limits and the calendar."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from crm.complaints.time_limits import Limits
from crm.dispositions.codes import DispositionCodes, load_codes
from crm.work_calendar import WorkCalendar


@dataclass(frozen=True, slots=True)
class ReportRules:
    tz: ZoneInfo
    now: datetime  # reports of a period still running show it as it stands now
    answer_within_seconds: float = 15  # "answer within 3 rings"
    qa_points_limit: int = 30  # points lost in the window that the manuals dismiss at
    qa_window_months: int = 6
    complaint_limits: Limits = field(default_factory=Limits)
    calendar: WorkCalendar = field(default_factory=WorkCalendar)
    rule_points: Mapping[str, int] = field(default_factory=dict)  # QA rule id → its points
    disposition_codes: DispositionCodes = field(default_factory=load_codes)
