"""What Asterisk channel names, interfaces and dial strings say about who is on a call."""

from __future__ import annotations

import re
from functools import lru_cache

# "PJSIP/1001-0000000b", "Local/1001@agents-00000002;1" → the interface without the instance.
_INSTANCE_RE = re.compile(r"^(?P<interface>.+)-[0-9a-f]{8}(?P<half>;[12])?$")
# "PJSIP/1001", "Local/1001@agents/n", "SIP/1001", "1001@agent-phone", "PJSIP/138...@trunk"
_RESOURCE_RE = re.compile(r"^(?:[A-Za-z0-9]+/)?(?P<resource>[^@/;,]+)")
UNKNOWN = "<unknown>"


@lru_cache(maxsize=8192)
def interface_of(channel: str) -> str:
    """The device or interface a channel belongs to: "PJSIP/1001-0000000b" → "PJSIP/1001"."""
    match = _INSTANCE_RE.match(channel)
    return match.group("interface") if match else channel


@lru_cache(maxsize=8192)
def local_pair_of(channel: str) -> str:
    """Both halves of a Local channel share this key ("...;1" and "...;2"); others are alone."""
    return channel[:-2] if channel.endswith((";1", ";2")) else channel


@lru_cache(maxsize=8192)
def resource_of(interface_or_dialstring: str) -> str:
    """The extension or number in an interface or dial string ("Local/1001@agents/n" → "1001")."""
    text = interface_or_dialstring.strip()
    if text.startswith("PJSIP/") and "@" in text:  # PJSIP/<number>@<endpoint>
        text = text[len("PJSIP/") :]
    match = _RESOURCE_RE.match(text)
    return match.group("resource") if match else ""


class AgentDirectory:
    """Tells agents' phones from outside numbers by the internal numbering plan (setting
    `agent_extension_pattern`), so the tracker needs no database."""

    def __init__(self, pattern: str = r"^\d{3,6}$") -> None:
        self._pattern = re.compile(pattern)

    def extension_of(self, interface: str) -> str | None:
        resource = resource_of(interface)
        return resource if self._pattern.match(resource) else None

    def is_agent(self, interface: str) -> bool:
        return self.extension_of(interface) is not None


def dialed_number(dialstring: str) -> str | None:
    """The outside number a dial string reaches, if it holds one ("13900139000@customers")."""
    resource = resource_of(dialstring)
    digits = resource.lstrip("+")
    return resource if digits.isdigit() and len(digits) >= 5 else None


def known(value: str | None) -> str | None:
    """Asterisk writes "<unknown>" for absent caller ids and uniqueids."""
    return None if value in (None, "", UNKNOWN) else value
