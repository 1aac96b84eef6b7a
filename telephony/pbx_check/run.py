"""Running the whole check: expectations, one AMI session, the probe, the judgements."""

from __future__ import annotations

from pathlib import Path

from crm.clock import Clock
from crm.settings import Settings
from telephony.ami.client import AmiEndpoint
from telephony.pbx_check.checks import run_checks
from telephony.pbx_check.conf_files import SHIPPED_DIR
from telephony.pbx_check.expectations import expectations
from telephony.pbx_check.probe import Locate, Probe
from telephony.pbx_check.results import CheckResult
from telephony.pbx_check.session import CheckSession


def recording_locator(settings: Settings, clock: Clock) -> Locate:
    """Where the server finds a recording the PBX reported: the same resolver the server's
    readers use (mapping CALLCENTRE_RECORDINGS_PBX_DIR, fetching when configured)."""
    from telephony.recordings.errors import RecordingError
    from telephony.recordings.files import RecordingFiles

    files = RecordingFiles.of(settings, clock)

    def locate(pbx_path: str) -> Path:
        try:
            return files.find(pbx_path)
        except RecordingError as exc:
            raise LookupError(str(exc)) from None

    return locate


async def check_pbx(
    settings: Settings,
    *,
    clock: Clock,
    conf_dir: Path = SHIPPED_DIR,
    call: bool = True,
    wait_recording: float = 5.0,
    locate: Locate | None = None,
) -> list[CheckResult]:
    """Every check's result; CannotConnect when the AMI login fails (ConfError when
    asterisk-conf/ cannot be read)."""
    expected = expectations(settings, conf_dir)
    endpoint = AmiEndpoint(
        settings.ami_host, settings.ami_port, settings.ami_user, settings.ami_secret
    )
    session = CheckSession(endpoint, clock=clock, timeout=settings.ami_action_timeout)
    await session.open()
    try:
        probe = Probe(
            session,
            expected,
            clock=clock,
            user=settings.ami_user,
            locate=locate or recording_locator(settings, clock),
            selftest=call,
            wait_recording=wait_recording,
        )
        facts = await probe.gather()
    finally:
        await session.close()
    return run_checks(facts, expected)
