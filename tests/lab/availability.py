"""Whether this machine has the Asterisk lab, and if not, exactly why (said loudly by the
test session, never a silent skip)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from tests.lab.settings import PREFIX_VARIABLE, LabSettingError, LabSettings

# Modules the lab loads that a minimal Asterisk build may lack (asterisk-conf/README.md).
REQUIRED_MODULES = (
    "chan_pjsip", "res_pjsip", "res_pjsip_session", "res_pjsip_refer", "res_rtp_asterisk",
    "app_queue", "app_mixmonitor", "app_chanspy", "app_dial", "app_playback", "cdr_manager",
    "res_musiconhold", "func_strings", "func_logic", "pbx_config", "format_wav", "codec_alaw",
)  # fmt: skip
PROGRAMS = {"baresip": "baresip", "espeak-ng": "espeak-ng", "sox": "sox"}  # program: package


def absent_reason(
    environ: dict[str, str] | None = None, which: Callable[[str], str | None] = shutil.which
) -> str | None:
    """None when the lab can run here; otherwise what is missing and how to provide it."""
    try:
        settings = LabSettings.from_environ(environ)
    except LabSettingError as exc:
        return str(exc)
    if settings.asterisk is None:
        return f"{PREFIX_VARIABLE} is not set (the prefix of an installed Asterisk 22)"
    binary = settings.asterisk / "sbin" / "asterisk"
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        return f"{PREFIX_VARIABLE}={settings.asterisk}: no executable {binary}"
    modules = settings.asterisk / "lib" / "asterisk" / "modules"
    missing = [m for m in REQUIRED_MODULES if not (modules / f"{m}.so").is_file()]
    if missing:
        return f"{PREFIX_VARIABLE}={settings.asterisk}: modules missing in {modules}: " + ", ".join(
            missing
        )
    programs = [f"{p} (apt-get install {pkg})" for p, pkg in PROGRAMS.items() if not which(p)]
    if programs:
        return "not installed: " + ", ".join(programs)
    if not _writable(settings.directory):
        return f"the lab directory {settings.directory} is not writable"
    return None


def _writable(directory: Path) -> bool:
    existing = directory
    while not existing.exists():
        existing = existing.parent
    return os.access(existing, os.W_OK)
