"""The lab's Asterisk configuration: `asterisk-conf/` as shipped, with only the documented
placeholders (addresses, ports, secrets, the recordings directory) replaced, plus the few
files a packaged Asterisk would already have and the product does not ship.

`SUBSTITUTIONS` is the whole difference between the shipped files and the lab's; the test
`tests/test_asterisk_lab_config.py` (runs everywhere) checks that nothing else differs.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from tests.lab.settings import AGENTS, CARRIER_ADDRESS, PBX_ADDRESS, LabSettings

SHIPPED = Path(__file__).resolve().parents[2] / "asterisk-conf"
SHIPPED_FILES = ("extensions.conf", "manager.conf", "pjsip.conf", "queues.conf")
CARRIER_ACCOUNT = "4008001234"  # the lab carrier's account / DID (the trunk's CHANGE_ME)


@dataclass(frozen=True, slots=True)
class Substitution:
    """`key = <value>` in section `[section]` of a shipped file becomes the lab's value."""

    file: str
    section: str
    key: str
    value: str  # a str.format template over LabValues.names()
    why: str


SUBSTITUTIONS: tuple[Substitution, ...] = (
    Substitution("manager.conf", "general", "port", "{ami_port}", "CALLCENTRE_AMI_PORT"),
    Substitution("manager.conf", "callcentre", "secret", "{ami_secret}", "CALLCENTRE_AMI_SECRET"),
    Substitution("extensions.conf", "globals", "CC_MONITOR_DIR", "{monitor_dir}",
                 "CALLCENTRE_RECORDINGS_DIR (same host)"),
    Substitution("pjsip.conf", "transport-udp", "bind", "{pbx_address}:{sip_port}",
                 "the PBX's SIP address"),
    Substitution("pjsip.conf", "transport-tcp", "bind", "{pbx_address}:{sip_port}",
                 "the PBX's SIP address"),
    *(
        Substitution("pjsip.conf", agent, "password", f"{{agent_secret_{agent}}}",
                     f"agent {agent}'s phone password")
        for agent in AGENTS
    ),
    Substitution("pjsip.conf", "carrier", "from_user", "{carrier_account}", "carrier account"),
    Substitution("pjsip.conf", "carrier", "from_domain", "{carrier_address}", "carrier domain"),
    Substitution("pjsip.conf", "carrier", "username", "{carrier_account}", "carrier account"),
    Substitution("pjsip.conf", "carrier", "password", "{carrier_secret}", "carrier password"),
    Substitution("pjsip.conf", "carrier", "contact", "sip:{carrier_address}:{carrier_port}",
                 "carrier signalling address"),
    Substitution("pjsip.conf", "carrier", "server_uri", "sip:{carrier_address}:{carrier_port}",
                 "carrier registrar"),
    Substitution("pjsip.conf", "carrier", "client_uri", "sip:{carrier_account}@{carrier_address}",
                 "carrier account"),
    Substitution("pjsip.conf", "carrier", "contact_user", "{carrier_account}", "carrier account"),
    Substitution("pjsip.conf", "carrier", "match", "{carrier_address}",
                 "carrier signalling address (identify)"),
)  # fmt: skip

_SECTION = re.compile(r"^\[([^\]]+)\]")
_SETTING = re.compile(
    r"^(?P<head>\s*(?P<key>[A-Za-z0-9_]+)\s*=\s*)(?P<value>[^;]*?)(?P<tail>\s*(;.*)?)$"
)


class ShippedConfigChanged(Exception):
    """A documented placeholder is missing from (or repeated in) the shipped file."""


def lab_secrets(directory: Path) -> dict[str, str]:
    """Random secrets of this lab, made once and kept (readable by the owner only)."""
    path = directory / "secrets.json"
    if path.exists():
        return dict(json.loads(path.read_text()))
    values = {"ami_secret": secrets.token_hex(16), "carrier_secret": secrets.token_hex(16)}
    values |= {f"agent_secret_{agent}": secrets.token_hex(12) for agent in AGENTS}
    directory.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps(values))
    return values


def lab_values(settings: LabSettings, secret_values: dict[str, str]) -> dict[str, str]:
    return {
        "ami_port": str(settings.ports.ami),
        "sip_port": str(settings.ports.sip),
        "carrier_port": str(settings.ports.carrier_sip),
        "pbx_address": PBX_ADDRESS,
        "carrier_address": CARRIER_ADDRESS,
        "carrier_account": CARRIER_ACCOUNT,
        "monitor_dir": str(monitor_dir(settings)),
        **secret_values,
    }


def monitor_dir(settings: LabSettings) -> Path:
    return settings.directory / "spool" / "monitor"


def render_shipped(name: str, text: str, values: dict[str, str]) -> str:
    """The shipped file `name` with its documented placeholders replaced, nothing else."""
    rules = {(s.section, s.key): s for s in SUBSTITUTIONS if s.file == name}
    used: dict[tuple[str, str], int] = dict.fromkeys(rules, 0)
    section = ""
    lines = []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        ending = line[len(body) :]
        if header := _SECTION.match(body):
            section = header.group(1)
        elif (setting := _SETTING.match(body)) and (section, setting["key"]) in rules:
            rule = rules[(section, setting["key"])]
            used[(section, rule.key)] += 1
            body = f"{setting['head']}{rule.value.format(**values)}{setting['tail']}"
        lines.append(body + ending)
    wrong = {f"[{s}] {k}: {n}" for (s, k), n in used.items() if n != 1}
    if wrong:
        raise ShippedConfigChanged(
            f"{name}: each placeholder must appear exactly once, but: {', '.join(sorted(wrong))}"
        )
    return "".join(lines)
