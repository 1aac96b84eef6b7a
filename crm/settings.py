"""The one settings object: every knob comes from `CALLCENTRE_*` environment variables or `.env`.

A bad value stops start-up with a message naming the variable (see `load_settings`).
"""

from __future__ import annotations

import ipaddress
import os
import re
from datetime import time
from functools import lru_cache
from itertools import pairwise
from pathlib import Path, PurePosixPath
from typing import Annotated, Literal
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from crm.dispositions.codes import CodesError, load_codes

ENV_PREFIX = "CALLCENTRE_"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/callcentre.db"
DEFAULT_CALLING_HOURS = "09:00-12:00,14:00-20:00"  # the centre's hours unless configured
UI_LANGUAGES = ("zh-CN", "en")  # the pages' languages: configured names are given in each

_HOURS_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class ConfigurationError(Exception):
    """Raised when a setting has a value the server cannot run with."""


def parse_calling_hours(value: str) -> list[tuple[time, time]]:
    """Parse `09:00-12:00,14:00-20:00` into ordered, non-overlapping windows."""
    windows: list[tuple[time, time]] = []
    for part in value.split(","):
        if not part.strip():
            continue
        match = _HOURS_RE.match(part)
        if not match:
            raise ValueError(f"{part.strip()!r} is not a window like 09:00-12:00")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        try:
            start, end = time(h1, m1), time(h2, m2)
        except ValueError as exc:
            raise ValueError(f"{part.strip()!r}: {exc}") from None
        if end <= start:
            raise ValueError(f"{part.strip()!r} ends before it starts")
        windows.append((start, end))
    windows.sort()
    for (_, end), (start, _) in pairwise(windows):
        if start < end:
            raise ValueError("calling-hour windows overlap")
    if not windows:
        raise ValueError("at least one window is required")
    return windows


def parse_alert_pair(value: str) -> tuple[float, float]:
    """`2,5` → (2.0, 5.0): an alert's warning and alarm levels."""
    parts = [part.strip() for part in value.split(",")]
    if len(parts) != 2:
        raise ValueError(f"{value!r} is not two numbers like 2,5 (warn,alert)")
    try:
        warn, alert = float(parts[0]), float(parts[1])
    except ValueError:
        raise ValueError(f"{value!r} is not two numbers like 2,5 (warn,alert)") from None
    return warn, alert


def check_alert_pair(pair: tuple[float, float]) -> None:
    warn, alert = pair
    if not (0 < warn <= alert):
        raise ValueError(
            f"{warn:g},{alert:g}: the warning level must be above 0 and not above the alarm"
        )


class Settings(BaseSettings):
    """Every setting, each described by the docstring under it: `callcentre config-reference`
    writes them into docs/configuration.md (tests/test_config_reference.py keeps it current)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        extra="ignore",
        validate_default=True,
        use_attribute_docstrings=True,
    )

    # Database: SQLite file by default, PostgreSQL (postgresql+asyncpg://) in production.
    database_url: str = DEFAULT_DATABASE_URL
    """The database: `sqlite+aiosqlite:///path.db`, or in production (several processes share
    it) `postgresql+asyncpg://user:password@host/db`."""
    database_echo: bool = False
    """Log every SQL statement (debugging only: statements carry customers' data)."""

    # Asterisk Manager Interface.
    pbx_id: str = Field("default", min_length=1, max_length=64)
    """Names the PBX in call records (one bridge per Asterisk)."""
    ami_host: str = "127.0.0.1"
    """The Asterisk Manager Interface's host."""
    ami_port: int = Field(5038, ge=1, le=65535)
    """The Asterisk Manager Interface's TCP port."""
    ami_user: str = "callcentre"
    """The manager.conf user the server logs in as."""
    ami_secret: SecretStr = SecretStr("callcentre")
    """That user's secret (set a real one in production; never logged)."""
    ami_action_timeout: float = Field(10.0, gt=0)
    """Seconds any AMI action may take."""
    ami_ping_interval: float = Field(5.0, gt=0)
    """The watchdog: seconds between Pings to the PBX."""
    ami_ping_timeout: float = Field(5.0, gt=0)
    """A Ping unanswered this many seconds drops the connection and reconnects."""
    ami_reconnect_min: float = Field(0.5, gt=0)
    """Reconnect backoff: the first wait (seconds, with jitter)."""
    ami_reconnect_max: float = Field(30.0, gt=0)
    """Reconnect backoff: the longest wait (seconds, with jitter)."""
    agent_interface_template: str = "PJSIP/{extension}"
    """Agents' queue interface (`{extension}` is replaced)."""
    # How a call is started on an agent's phone (click-to-call, agent-first callbacks) when the
    # queue members' interface cannot do it: on FreePBX the members are
    # Local/<ext>@from-queue/n, a context that hangs up calls that did not come through a queue.
    agent_dial_template: str | None = None
    """How calls the server starts ring an agent's phone (click-to-call, agent-first callbacks);
    unset: the interface template. FreePBX: `Local/{extension}@from-internal`."""
    agent_extension_pattern: str = r"^\d{3,6}$"
    """A regular expression matching internal extensions, as opposed to outside numbers."""
    queue: str = "service"
    """The inbound queue."""
    callback_queue: str = "callbacks"
    """The queue of customer-first campaigns."""
    queue_names: dict[str, dict[str, str]] = Field(default_factory=dict)
    """Queues' names as the pages show them, in Chinese and English (JSON object:
    `{"sales": {"zh-CN": "销售热线", "en": "Sales line"}}`); unnamed: the inbound queue reads
    客服热线 / Service hotline, the callback queue 回访外呼队列 / Callback queue."""
    trunk_dial_template: str = "PJSIP/{number}@trunk"
    """How customer-first campaigns dial out (`{number}` is replaced)."""
    dialer_enabled: bool = True
    """Run the campaign dialer (in the processes with the dialer role)."""
    dialer_calls_per_second: float = Field(1.0, gt=0, le=100)
    """The dialer's call-start rate for the trunk."""
    recordings_dir: Path = Path("./var/recordings")
    """Where the server reads recordings (and keeps those fetched from the PBX)."""
    recordings_pbx_dir: str = "/var/spool/asterisk/monitor"
    """Where the PBX writes recordings: its paths are read at the same sub-path (dated folders
    kept) under the recordings directory; paths outside are refused."""
    recordings_fetch_url: str | None = None
    """E.g. `https://pbx.example:8443/monitor/`: the PBX's recordings directory served
    read-only; a missing file is fetched from there on first use (unset: never fetched)."""
    recordings_fetch_user: str | None = None
    """The fetch URL's basic-auth user (set with the password, or neither)."""
    recordings_fetch_password: SecretStr | None = None
    """The fetch URL's basic-auth password (never logged)."""
    recordings_fetch_timeout: float = Field(60.0, gt=0)
    """Seconds one recording's fetch may take."""
    recordings_fetch_max_mb: int = Field(200, ge=1)
    """Recordings larger than this many MB are not fetched."""
    recordings_fetch_ca_file: Path | None = None
    """The certificate (or its CA) of a PBX with a self-signed one; unset: the system's CAs."""
    recordings_compress: bool = True
    """After a call is transcribed, replace its WAV recordings by Ogg Opus (10-14x smaller
    on speech; the QA player plays both). false: keep the WAVs as the PBX wrote them."""
    disk_warn_percent: float = Field(10.0, ge=0, le=100)
    """Below this share (percent) of free space on the recordings directory's disk, /healthz
    is degraded and the wallboard warns supervisors; 0 never warns."""

    # Retention (PIPL: kept no longer than needed), in days from the call's start; 0 keeps
    # forever. Applied by the worker role once an hour and by `callcentre retention`; calls
    # of a customer with a complaint not yet closed are kept until it closes.
    retain_audio_days: int = Field(180, ge=0)  # the recording files
    """Days a call's recording files are kept, from the call's start (0: forever)."""
    retain_transcripts_days: int = Field(730, ge=0)  # transcripts and QA scores
    """Days a call's transcripts and QA scores are kept (0: forever)."""
    retain_calls_days: int = Field(0, ge=0)  # the call rows themselves (0: forever)
    """Days the call rows themselves are kept (0: forever); at least the other two when set.
    Calls of a customer with a complaint not yet closed are kept until it closes."""

    retain_import_hours: int = Field(24, ge=1)
    """Hours an uploaded import file never committed (left after its preview, failed or
    interrupted) is kept with its preview, from its last activity; then deleted by the
    retention job. A committed import keeps its report, never the file or rows' values."""

    # Speech: no model configured means transcription is off, everything else on.
    vosk_model_path: Path | None = None
    """The Vosk model directory (unset: transcription off, said at start-up)."""
    transcription_workers: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        json_schema_extra={"shown_default": "the CPU count"},
    )
    """Transcription worker processes, one loaded model each (memory: about the model's size
    each)."""
    transcription_recycle_after: int = Field(200, ge=1)
    """Files a worker transcribes before it is replaced (bounds native memory growth)."""
    transcription_max_retries: int = Field(3, ge=0)
    """Retries of a failed transcription before its job is marked failed."""
    transcription_lease_seconds: float = Field(300.0, ge=1)
    """A worker's hold on a job, renewed every third of it: a dead worker's job is taken over
    this long after."""
    transcription_speech_only: bool = True
    """Decode only the stretches of a recording where a voice-activity detector (WebRTC's)
    finds speech, with the padding below, instead of the whole file: a call leg is silent
    while the other party speaks, and decoding silence costs as much CPU as speech. Word
    times stay on the recording's clock either way."""
    transcription_vad_aggressiveness: int = Field(1, ge=0, le=3)
    """How strictly the detector calls a 30 ms frame speech: 0 (keeps the most, for noisy
    lines) to 3 (keeps the least)."""
    transcription_vad_padding_seconds: float = Field(1.0, ge=0, le=2)
    """Audio decoded before and after each stretch of speech, so soft word starts and ends
    are not cut and the recogniser adapts on some of the quiet around a turn (a second
    agreed best with whole-file decoding at little CPU: bench/README.md)."""
    transcription_vad_merge_seconds: float = Field(1.0, ge=0, le=10)
    """Stretches of speech (padding included) this close are decoded together: a pause
    shorter than this is never a cut between two decodes."""
    qa_rules_path: Path | None = None
    """The QA scorecard (TOML) a company edits; unset: the shipped one."""
    qa_points_limit: int = Field(30, ge=1)
    """QA points lost within the window that the monthly report flags (the manuals'
    dismissal line)."""
    qa_points_window_months: int = Field(6, ge=1, le=24)
    """The window, in months, of the QA points limit."""
    qa_sample_share: float = Field(0.2, ge=0, le=1)
    """The share of each agent's answered calls in every ISO week drawn at random for QA
    review (0: none); the sampling rules: docs/business-rules.md."""
    qa_sample_complaint_calls: bool = True
    """Every call linked to a complaint (raised on it, or opened by its callback) goes to QA
    review."""
    qa_sample_below_percent: int = Field(80, ge=0, le=100)
    """Every call scored under this % of its checked points goes to QA review (0: none); 80:
    an inbound call that lost 3 of its 14 points."""
    qa_sample_interval_seconds: float = Field(300.0, ge=1)
    """How often the web role runs the sampling rules (seconds)."""
    report_font: Path | None = None
    """The TrueType CJK font (`.ttf`/`.ttc`) PDF reports embed; unset: the first found of
    WenQuanYi (Debian `fonts-wqy-microhei`), TrueType Noto CJK, Droid Sans Fallback, AR PL."""

    # Business clock and rules (SPEC.md).
    timezone: str = "Asia/Shanghai"
    """The business clock's time zone."""
    default_area_code: str | None = Field(None, pattern=r"^0\d{2,3}$")
    """E.g. `029`: local numbers without an area code get this one."""
    calling_hours: Annotated[list[tuple[time, time]], NoDecode] = Field(
        default_factory=lambda: parse_calling_hours(DEFAULT_CALLING_HOURS),
        json_schema_extra={"shown_default": DEFAULT_CALLING_HOURS},
    )
    """When campaigns may call: comma-separated windows of the business clock."""
    holidays_path: Path | None = None
    """Public holidays and make-up working days (TOML); unset: the shipped Chinese calendar."""
    answer_within_seconds: int = Field(15, gt=0)
    """The service level's answer time ("answer within 3 rings")."""
    wrapup_seconds: int = Field(30, ge=0)
    """Wrap-up after each call, in seconds."""

    # Wallboard alerts (docs/business-rules.md): each a pair "warn,alert". A figure at or past
    # the first colours its tile amber, past the second red; crossing either is pushed to the
    # supervisors once. The longest wait's default follows the service level: two thirds of
    # CALLCENTRE_ANSWER_WITHIN_SECONDS, then all of it (10 s, 15 s).
    alert_callers_waiting: Annotated[tuple[float, float], NoDecode] = (2.0, 5.0)
    """Wallboard alert, "warning,alarm": callers waiting in a queue."""
    alert_longest_wait_seconds: Annotated[tuple[float, float] | None, NoDecode] = Field(
        None, json_schema_extra={"shown_default": "⅔ and all of the answer time (10,15)"}
    )
    """Wallboard alert, "warning,alarm": the longest current wait, in seconds."""
    alert_abandon_rate: Annotated[tuple[float, float], NoDecode] = (5.0, 10.0)  # percent
    """Wallboard alert, "warning,alarm": today's abandon rate, in percent."""
    alert_abandon_min_offered: int = Field(5, ge=1)  # a day's first calls set no rate yet
    """Calls a queue has offered today before its abandon rate can alert."""
    alert_paused_minutes: Annotated[tuple[float, float], NoDecode] = (15.0, 30.0)
    """Wallboard alert, "warning,alarm": an agent paused this many minutes."""
    alert_paused_minutes_by_reason: dict[str, tuple[float, float]] = Field(
        default_factory=lambda: {
            "lunch": (60.0, 75.0),
            "training": (120.0, 150.0),
            "meeting": (90.0, 120.0),
        }
    )
    """Pause reasons allowed longer, "warning,alarm" minutes each (JSON object:
    `{"lunch": [60, 75]}`)."""

    disposition_codes_path: Path | None = None
    """The codes an agent picks in wrap-up, why the customer called (TOML); unset: the shipped
    ones (咨询 投诉 报修 回访 新业务 其他, crm/dispositions/default_codes.toml)."""
    disposition_required: bool = False
    """Whether an agent codes the day's answered calls before going ready again (wrap-up then
    lasts until they have)."""

    # Construction-stage callback schedule.
    callback_window_days: int = Field(3, ge=0)
    """A stage callback is due on the stage date and late after this many days."""
    callback_offset_start_days: int = 0
    """Shift the 开工 (start) stage's callback by this many days."""
    callback_offset_concealed_works_days: int = 0
    """Shift the 隐蔽工程 (concealed works) stage's callback by this many days."""
    callback_offset_midterm_days: int = 0
    """Shift the 中期 (midterm) stage's callback by this many days."""
    callback_offset_completion_days: int = 0
    """Shift the 完工 (completion) stage's callback by this many days."""
    post_completion_months: int = Field(12, ge=0, le=120)
    """Monthly callbacks after completion."""

    # Complaints (投诉) and repairs (报修): time limits in hours from receipt (SPEC.md).
    complaint_sign_hours: float = Field(3, gt=0)
    """A complaint is signed for by its department within this many hours of receipt."""
    complaint_verify_hours: float = Field(24, gt=0)
    """The department's verification call, hours from receipt."""
    complaint_solution_hours: float = Field(24, gt=0)
    """Solution proposed and visit agreed, hours from receipt."""
    complaint_resolve_hours: float = Field(48, gt=0)
    """Resolved on site, hours from receipt."""
    complaint_major_on_site_working_days: int = Field(2, ge=1, le=30)
    """A major complaint is resolved on site within this many working days (holidays from the
    calendar)."""
    complaint_callback_hours: float = Field(24, gt=0)
    """Customer service calls back within this many hours of a complaint's resolution."""
    due_soon_fraction: float = Field(0.2, gt=0, lt=1)
    """The last part of a time limit in which it is "about to be overdue"."""
    departments: list[str] = Field(
        default_factory=lambda: ["工程部", "设计部", "维修队", "材料部", "财务部", "客服部"],
        min_length=1,
    )
    """The departments that receive complaints (JSON list)."""
    area_departments: dict[str, str] = Field(
        default_factory=lambda: {
            "quality": "工程部",
            "crew": "工程部",
            "supervisor": "工程部",
            "designer": "设计部",
        }
    )
    """Which department answers for each unsatisfied callback area (JSON object naming
    exactly quality, crew, supervisor and designer)."""
    repair_arrival_hours: float = Field(8, gt=0)
    """A repair crew is on site within this many hours."""

    # Several processes (`callcentre serve --role …`): Redis carries events and jobs between
    # them. Unset: one process does everything, events stay in memory.
    redis_url: SecretStr | None = None
    """`redis://host:6379/0`: joins processes started with `--role` (unset: one process does
    everything). Never logged."""

    # Web.
    secret_key: SecretStr = SecretStr("change-me-in-production")
    """Signs sessions: set a long random value in production, the same on every web process."""
    session_hours: int = Field(12, gt=0)
    """A browser session's lifetime, in hours."""
    resume_seconds: float = Field(600.0, ge=1)
    """How long the messages pushed to an agent's browser (pops, call and state changes) are
    kept for a page that reconnects: it gets what it missed within this time. Older ones are
    dropped as new ones arrive (at most 500 a user are kept)."""
    max_body_bytes: int = Field(1_048_576, ge=1024)
    """Request bodies over this many bytes are refused (413) before they are read; the
    spreadsheet upload has its own limit (`max_import_bytes`). A reverse proxy's limit should
    match."""
    max_import_bytes: int = Field(10_485_760, ge=1024)
    """The largest spreadsheet an administrator may upload on the admin page (413 above it);
    `callcentre import` reads any size. The proxy's limit for `/api/imports` should match."""
    # The client's address decides login throttling and is audited: only a proxy listed here
    # may say who the client is (X-Forwarded-For), anyone else could forge any address.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Reverse proxies (comma-separated addresses or networks, e.g. `127.0.0.1,10.0.0.0/24`)
    whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed; unset: none, the peer's
    address is the client's."""
    log_format: Literal["text", "json"] = "text"
    """`json`: one JSON object per log line (time, level, logger, message), for a log
    collector; query values are redacted either way."""

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(
            ("redis://", "rediss://", "unix://")
        ):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("recordings_pbx_dir")
    @classmethod
    def _pbx_directory(cls, value: str) -> str:
        path = PurePosixPath(value)
        if not path.is_absolute() or ".." in path.parts or "\0" in value:
            raise ValueError(f"{value!r} is not an absolute directory path without '..'")
        if path == PurePosixPath("/"):
            raise ValueError("must be the directory the PBX records into, not /")
        return str(path)

    @field_validator("recordings_fetch_user", "recordings_fetch_password", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("recordings_fetch_url")
    @classmethod
    def _fetch_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL naming the PBX")
        if parts.username is not None or parts.password is not None:
            raise ValueError(
                "must not contain a user or password (URLs reach logs): set "
                f"{ENV_PREFIX}RECORDINGS_FETCH_USER and {ENV_PREFIX}RECORDINGS_FETCH_PASSWORD"
            )
        if parts.query or parts.fragment:
            raise ValueError("must not have a query (?…) or fragment (#…)")
        path = parts.path if parts.path.endswith("/") else f"{parts.path}/"
        return urlunsplit((parts.scheme, parts.netloc, path, "", ""))

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_addresses(cls, value: list[str]) -> list[str]:
        proxies = []
        for item in value:
            try:
                network = ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"{item!r} is not an IP address or network like 10.0.0.0/24 "
                    "(name the proxies: trusting any address lets every client forge its own)"
                ) from None
            one = network.num_addresses == 1
            proxies.append(str(network.network_address) if one else str(network))
        return proxies

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("calling_hours", mode="before")
    @classmethod
    def _parse_hours(cls, value: object) -> object:
        return parse_calling_hours(value) if isinstance(value, str) else value

    @field_validator(
        "alert_callers_waiting",
        "alert_longest_wait_seconds",
        "alert_abandon_rate",
        "alert_paused_minutes",
        mode="before",
    )
    @classmethod
    def _parse_alert_pair(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_alert_pair(value) if value.strip() else None
        return value

    @field_validator(
        "alert_callers_waiting",
        "alert_longest_wait_seconds",
        "alert_abandon_rate",
        "alert_paused_minutes",
    )
    @classmethod
    def _ordered_pair(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None:
            check_alert_pair(value)
        return value

    @field_validator("queue_names")
    @classmethod
    def _named_in_both_languages(
        cls, value: dict[str, dict[str, str]]
    ) -> dict[str, dict[str, str]]:
        for queue, names in value.items():
            if not queue.strip():
                raise ValueError("a queue's name is empty")
            if set(names) != set(UI_LANGUAGES):
                raise ValueError(
                    f"queue {queue!r}: give its name in {' and '.join(UI_LANGUAGES)}, "
                    f"not {', '.join(sorted(names)) or 'none'}"
                )
            for lang, name in names.items():
                if not name.strip() or len(name) > 40:
                    raise ValueError(
                        f"queue {queue!r}: the {lang} name is empty or over 40 characters"
                    )
        return {q: {lang: n.strip() for lang, n in names.items()} for q, names in value.items()}

    @field_validator("alert_paused_minutes_by_reason")
    @classmethod
    def _known_pause_reasons(
        cls, value: dict[str, tuple[float, float]]
    ) -> dict[str, tuple[float, float]]:
        from crm.agents.states import PAUSE_REASONS  # the agents' own list (no cycle at import)

        unknown = sorted(set(value) - set(PAUSE_REASONS))
        if unknown:
            raise ValueError(
                f"unknown pause reasons {', '.join(unknown)}; use {', '.join(PAUSE_REASONS)}"
            )
        for pair in value.values():
            check_alert_pair(pair)
        return value

    @model_validator(mode="after")
    def _longest_wait_follows_service_level(self) -> Settings:
        if self.alert_longest_wait_seconds is None:
            within = float(self.answer_within_seconds)
            self.alert_longest_wait_seconds = (float(round(within * 2 / 3)), within)
        return self

    @field_validator("disposition_codes_path")
    @classmethod
    def _readable_codes(cls, value: Path | None) -> Path | None:
        try:
            load_codes(value)
        except CodesError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("agent_extension_pattern")
    @classmethod
    def _valid_regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return value

    @field_validator("agent_interface_template", "agent_dial_template")
    @classmethod
    def _has_extension(cls, value: str | None) -> str | None:
        if value is not None and "{extension}" not in value:
            raise ValueError("must contain {extension}")
        return value

    def agent_phone(self, extension: str) -> str:
        """The channel that rings an agent's phone for a call the server starts."""
        return (self.agent_dial_template or self.agent_interface_template).format(
            extension=extension
        )

    @field_validator("trunk_dial_template")
    @classmethod
    def _has_number(cls, value: str) -> str:
        if "{number}" not in value:
            raise ValueError("must contain {number}")
        return value

    @model_validator(mode="after")
    def _areas_have_departments(self) -> Settings:
        areas = {"quality", "crew", "supervisor", "designer"}
        if set(self.area_departments) != areas:
            raise ValueError(
                f"CALLCENTRE_AREA_DEPARTMENTS must name exactly the areas {sorted(areas)}"
            )
        unknown = sorted(set(self.area_departments.values()) - set(self.departments))
        if unknown:
            raise ValueError(
                "CALLCENTRE_AREA_DEPARTMENTS names departments missing from "
                f"CALLCENTRE_DEPARTMENTS: {unknown}"
            )
        return self

    @model_validator(mode="after")
    def _call_rows_outlive_what_they_hold(self) -> Settings:
        # A call row deleted takes its transcripts and score with it: a shorter row retention
        # would silently override the longer ones.
        if self.retain_calls_days:
            for name in ("retain_audio_days", "retain_transcripts_days"):
                days = getattr(self, name)
                if days == 0 or days > self.retain_calls_days:
                    raise ValueError(
                        f"{ENV_PREFIX}RETAIN_CALLS_DAYS ({self.retain_calls_days}) must be at "
                        f"least {ENV_PREFIX}{name.upper()} ({days or 'forever'})"
                    )
        return self

    @model_validator(mode="after")
    def _fetch_credentials_paired(self) -> Settings:
        if (self.recordings_fetch_user is None) != (self.recordings_fetch_password is None):
            raise ValueError(
                f"{ENV_PREFIX}RECORDINGS_FETCH_USER and {ENV_PREFIX}RECORDINGS_FETCH_PASSWORD "
                "are set together or not at all"
            )
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def stage_offset_days(self, stage: str) -> int:
        return int(getattr(self, f"callback_offset_{stage}_days"))


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        if item["loc"]:
            lines.append(f"{ENV_PREFIX}{str(item['loc'][0]).upper()}: {item['msg']}")
        else:  # a rule across settings names them in its message
            lines.append(item["msg"])
    return "invalid configuration:\n  " + "\n  ".join(lines)


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning validation errors into one readable ConfigurationError."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigurationError(_describe(exc)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
