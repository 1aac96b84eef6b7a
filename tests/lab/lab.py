"""The lab seen by a test: the running Asterisk, and a scene of phones made for one test and
cleared after it (calls hung up, phones stopped, queue members removed)."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.lab.pbx import LabPbx
from tests.lab.phones import Account, Phone
from tests.lab.render import CARRIER_ACCOUNT
from tests.lab.scripts import Script
from tests.lab.settings import AGENTS, CARRIER_ADDRESS, PBX_ADDRESS, LabSettings

AMI_USER = "callcentre"  # the shipped manager.conf user
# app_queue's words for a member's device state (ast_devstate_str).
DEVICE_STATES = frozenset(
    {"Unknown", "Not in use", "In use", "Busy", "Invalid", "Unavailable", "Ringing",
     "Ring+Inuse", "On Hold"}
)  # fmt: skip


@dataclass
class Lab:
    settings: LabSettings
    pbx: LabPbx

    @property
    def ami_secret(self) -> str:
        return self.pbx.secrets["ami_secret"]

    def channels(self) -> list[str]:
        out = self.pbx.rx("core show channels concise", check=False) or ""
        return [line.split("!")[0] for line in out.splitlines() if "!" in line]

    def queue_members(self, queue: str) -> list[str]:
        out = self.pbx.rx(f"queue show {queue}", check=False) or ""
        return re.findall(r"\((PJSIP/[^ )]+|Local/[^ )]+)", out) + re.findall(
            r"^\s+(PJSIP/\S+) ", out, re.MULTILINE
        )

    def member_state(self, queue: str, interface: str) -> str | None:
        """The member's device state as app_queue sees it ("Not in use", "Unavailable"...)."""
        out = self.pbx.rx(f"queue show {queue}", check=False) or ""
        for line in out.splitlines():
            # "<name> (<interface>) (ringinuse disabled) (dynamic) (<state>) has taken..."
            if line.strip().startswith(interface + " ") or f"({interface})" in line:
                states = re.findall(r"\(([^)]*)\)", line)
                known = [state for state in states if state in DEVICE_STATES]
                return known[0] if known else None
        return None

    async def reset(self) -> None:
        """No call, no queue member, nothing remembered for the next test."""
        self.pbx.rx("channel request hangup all", check=False)
        for queue in ("service", "callbacks"):
            for member in set(self.queue_members(queue)):
                self.pbx.rx(f"queue remove member {member} from {queue}", check=False)
        self.pbx.rx("database deltree Queue/PersistentMembers", check=False)
        deadline = time.monotonic() + 10
        while self.channels():
            assert time.monotonic() < deadline, f"channels left: {self.channels()}"
            await asyncio.sleep(0.1)


@dataclass
class Scene:
    """The phones of one test. Agents register as their extension; customers call from the
    carrier's address; the carrier phone answers the PBX's outside calls."""

    lab: Lab
    directory: Path
    phones: list[Phone] = field(default_factory=list)

    def _phone(
        self, name: str, account: Account, address: str, sip_port: int, script: Script
    ) -> Phone:
        index = len(self.phones)
        ports = self.lab.settings.ports
        low, _ = ports.phone_rtp
        phone = Phone(
            name,
            account,
            address,
            sip_port,
            ports.control(index),
            (low + 20 * index, low + 20 * index + 19),
            self.directory / name,
            script.path,
        )
        self.phones.append(phone)
        return phone

    async def agent(self, extension: str, script: Script) -> Phone:
        """Agent `extension`'s softphone, registered (manual answer: the test answers)."""
        ports = self.lab.settings.ports
        account = Account(
            extension,
            f"{PBX_ADDRESS}:{ports.sip}",
            self.lab.pbx.secrets[f"agent_secret_{extension}"],
        )
        phone = self._phone(
            f"agent-{extension}",
            account,
            PBX_ADDRESS,
            ports.agent_sip(AGENTS.index(extension)),
            script,
        )
        await phone.start()
        return phone

    async def customer(self, number: str, script: Script) -> Phone:
        """A customer calling in through the carrier (from the carrier's address)."""
        ports = self.lab.settings.ports
        sip_port = ports.carrier_sip + 100 + 10 * len(self.phones)
        phone = self._phone(
            f"customer-{number}",
            Account(number, CARRIER_ADDRESS),
            CARRIER_ADDRESS,
            sip_port,
            script,
        )
        await phone.start()
        return phone

    async def carrier(self, number: str, script: Script) -> Phone:
        """The customer `number` reached through the carrier: the phone at the trunk's
        address that the PBX's outside calls go to (answered, refused or left ringing by the
        test). The PBX is made to see it at once (`pjsip qualify`)."""
        ports = self.lab.settings.ports
        phone = self._phone(
            f"carrier-{number}",
            Account(number, CARRIER_ADDRESS),
            CARRIER_ADDRESS,
            ports.carrier_sip,
            script,
        )
        await phone.start()
        await self.reach_carrier()
        return phone

    async def reach_carrier(self) -> None:
        """Have the PBX qualify the carrier phone now (twice in a row): a status shown before
        may be a former carrier phone's, and the PBX dials only a reachable contact. Called
        again right before the PBX dials out, as a status can still flip in between."""
        deadline, fresh = time.monotonic() + 10, 0
        while fresh < 2:
            self.lab.pbx.rx("pjsip qualify carrier", check=False)
            await asyncio.sleep(0.4)
            contact = self._carrier_contact()
            fresh = fresh + 1 if " Avail " in contact else 0
            assert time.monotonic() < deadline, f"the PBX does not reach the carrier: {contact}"

    def _carrier_contact(self) -> str:
        out = self.lab.pbx.rx("pjsip show contacts", check=False) or ""
        return next((line for line in out.splitlines() if "carrier/" in line), "")

    def inbound_uri(self, number: str = CARRIER_ACCOUNT) -> str:
        """What the carrier dials to reach the call centre: its DID at the PBX."""
        return f"sip:{number}@{PBX_ADDRESS}:{self.lab.settings.ports.sip}"

    async def close(self) -> None:
        for phone in self.phones:
            await phone.stop()
        await self.lab.reset()
