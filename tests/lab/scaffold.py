"""The lab-only configuration files: what a packaged Asterisk already has in /etc/asterisk and
the product does not ship, written for an unprivileged Asterisk on loopback. Each exists for
the reason in its docstring; keep the list short."""

from __future__ import annotations

import math
import wave
from array import array
from pathlib import Path

from tests.lab.settings import LabSettings

# What asterisk-conf/README.md asks for, plus what the lab itself uses (ChanSpy, transfers,
# CDRs for app_queue's logs). autoload=no: nothing else starts, in particular nothing that
# listens on a non-loopback port (chan_iax2, res_http, chan_unistim...).
MODULES = (
    "res_sorcery_config", "res_sorcery_memory", "res_sorcery_astdb", "res_timing_timerfd",
    "res_pjproject", "res_pjsip", "res_pjsip_session", "res_pjsip_sdp_rtp",
    "res_pjsip_authenticator_digest", "res_pjsip_outbound_authenticator_digest",
    "res_pjsip_endpoint_identifier_ip", "res_pjsip_endpoint_identifier_user",
    "res_pjsip_registrar", "res_pjsip_outbound_registration", "res_pjsip_caller_id",
    "res_pjsip_nat", "res_pjsip_rfc3326", "res_pjsip_pubsub", "res_pjsip_refer",
    "res_pjsip_dtmf_info", "res_pjsip_acl", "res_rtp_asterisk", "chan_pjsip",
    "func_pjsip_endpoint", "func_pjsip_contact", "func_pjsip_aor",
    "chan_bridge_media", "bridge_simple", "bridge_native_rtp", "bridge_softmix",
    "bridge_holding", "bridge_builtin_features", "res_musiconhold", "res_clioriginate",
    "app_queue", "app_dial", "app_mixmonitor", "app_playback", "app_chanspy", "app_transfer",
    "app_stack", "func_strings", "func_logic", "func_channel", "func_callerid", "func_global",
    "func_cdr", "func_hangupcause", "pbx_config", "cdr_manager",
    "format_wav", "format_pcm", "format_sln", "codec_alaw", "codec_ulaw", "codec_a_mu",
)  # fmt: skip


def asterisk_conf(settings: LabSettings) -> str:
    """Every directory in the lab's own tree (no root, no system path); modules and data are
    read from the installed prefix. astkeydir is the parent of keys/."""
    assert settings.asterisk is not None
    d, p = settings.directory, settings.asterisk
    return f"""[directories]
astetcdir => {d}/etc
astmoddir => {p}/lib/asterisk/modules
astvarlibdir => {d}/varlib
astdbdir => {d}/db
astkeydir => {d}
astdatadir => {p}/var/lib/asterisk
astagidir => {d}/agi-bin
astspooldir => {d}/spool
astrundir => {d}/run
astlogdir => {d}/log
astsbindir => {p}/sbin

[options]
verbose = 3
debug = 0
"""


def modules_conf() -> str:
    """Only the modules the contract and the lab need (see MODULES)."""
    loads = "".join(f"load => {name}.so\n" for name in MODULES)
    return f"[modules]\nautoload = no\n{loads}"


def logger_conf() -> str:
    """Logs in the lab's log directory, where a failing test can point."""
    return "[general]\n[logfiles]\nmessages.log => notice,warning,error,verbose\n"


def rtp_conf(settings: LabSettings) -> str:
    """A small high RTP range of the lab's own, away from the phones' and other services'."""
    low, high = settings.ports.rtp
    return f"[general]\nrtpstart = {low}\nrtpend = {high}\n"


def cdr_conf() -> str:
    """app_queue and cdr_manager decline to load without a CDR configuration."""
    return "[general]\nenable = yes\n"


def cdr_manager_conf() -> str:
    return "[general]\nenabled = yes\n"


def musiconhold_conf(settings: LabSettings) -> str:
    """queues.conf asks for class `default`; the prefix has no sound files, so the lab makes
    one (a quiet tone), which also lets a test hear hold music."""
    return f"[default]\nmode = files\ndirectory = {moh_dir(settings)}\n"


def moh_dir(settings: LabSettings) -> Path:
    return settings.directory / "moh"


def write_hold_music(path: Path, seconds: float = 4.0) -> None:
    """A 8 kHz mono 425 Hz tone at about -20 dBFS."""
    rate = 8000
    samples = array(
        "h",
        (int(3000 * math.sin(2 * math.pi * 425 * i / rate)) for i in range(int(rate * seconds))),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())


def scaffold_files(settings: LabSettings) -> dict[str, str]:
    """File name → content of every lab-only configuration file."""
    return {
        "asterisk.conf": asterisk_conf(settings),
        "modules.conf": modules_conf(),
        "logger.conf": logger_conf(),
        "rtp.conf": rtp_conf(settings),
        "cdr.conf": cdr_conf(),
        "cdr_manager.conf": cdr_manager_conf(),
        "musiconhold.conf": musiconhold_conf(settings),
    }
