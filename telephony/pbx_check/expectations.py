"""What the product needs from the PBX: telephony/contract.py, the shipped asterisk-conf/, and
the server's own settings (queue names, agent interfaces, trunk template, recordings)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from crm.settings import Settings
from telephony import contract
from telephony.pbx_check.conf_files import SHIPPED_DIR, DialplanContext, ShippedConf, read_shipped


@dataclass(frozen=True)
class QueueExpectation:
    name: str  # the queue's name on this site (CALLCENTRE_QUEUE / CALLCENTRE_CALLBACK_QUEUE)
    shipped: str  # its section in asterisk-conf/queues.conf
    strategy: str
    ringinuse: bool


@dataclass(frozen=True)
class Expectations:
    read_classes: frozenset[str]
    write_classes: frozenset[str]
    actions: tuple[str, ...]
    action_privileges: dict[str, frozenset[str]]
    contexts: dict[str, DialplanContext]  # contract contexts, as asterisk-conf/ writes them
    globals: dict[str, str]  # asterisk-conf's [globals]
    queues: tuple[QueueExpectation, ...]
    agent_interface_template: str
    agent_extension_pattern: str
    trunk_dial_template: str
    recordings_dir: Path
    conf_dir: Path

    def agent_extension(self, interface: str) -> str | None:
        """The extension behind a queue member's interface, if it is one the server manages."""
        head, _, tail = self.agent_interface_template.partition("{extension}")
        pattern = re.escape(head) + r"(?P<extension>[^/@;]+)" + re.escape(tail)
        match = re.fullmatch(pattern, interface)
        if match is None or re.search(self.agent_extension_pattern, match["extension"]) is None:
            return None
        return match["extension"]


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("yes", "true", "y", "t", "1", "on")


def expectations(settings: Settings, conf_dir: Path = SHIPPED_DIR) -> Expectations:
    """ConfError if asterisk-conf/ cannot be read or lacks a contract context."""
    shipped = read_shipped(conf_dir)
    return from_shipped(settings, shipped, conf_dir)


def from_shipped(settings: Settings, shipped: ShippedConf, conf_dir: Path) -> Expectations:
    from telephony.pbx_check.conf_files import ConfError

    missing = [c for c in contract.CONTEXTS if c not in shipped.dialplan]
    if missing:
        raise ConfError(f"{conf_dir}/extensions.conf lacks the contexts {', '.join(missing)}")
    roles = (
        (settings.queue, shipped.globals.get(contract.GLOBAL_QUEUE, "")),
        (settings.callback_queue, shipped.globals.get(contract.GLOBAL_CALLBACK_QUEUE, "")),
    )
    queues = []
    for name, section in dict(roles).items():
        if section not in shipped.queues:
            raise ConfError(f"{conf_dir}/queues.conf has no [{section}] queue")
        queues.append(
            QueueExpectation(
                name=name,
                shipped=section,
                strategy=shipped.queue_setting(section, "strategy") or "ringall",
                ringinuse=_truthy(shipped.queue_setting(section, "ringinuse") or "yes"),
            )
        )
    return Expectations(
        read_classes=contract.AMI_READ_CLASSES,
        write_classes=contract.AMI_WRITE_CLASSES,
        actions=tuple(dict.fromkeys((*contract.ACTIONS_USED, *contract.PBX_CHECK_ACTIONS))),
        action_privileges=dict(contract.ACTION_PRIVILEGES),
        contexts={name: shipped.dialplan[name] for name in contract.CONTEXTS},
        globals=dict(shipped.globals),
        queues=tuple(queues),
        agent_interface_template=settings.agent_interface_template,
        agent_extension_pattern=settings.agent_extension_pattern,
        trunk_dial_template=settings.trunk_dial_template,
        recordings_dir=settings.recordings_dir,
        conf_dir=conf_dir,
    )
