"""The simulated Asterisk's own configuration, as `callcentre pbx check` inspects it.

By default it is the shipped asterisk-conf/ (dialplan, [globals], queue settings), read from
the same files the check compares with, so the simulator and the shipped configuration
cannot drift apart. A test changes one field to play a misconfigured PBX: a context missing,
`strategy = rrmemory`, `ringinuse = yes`, a manager user without a class, an old version...
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from telephony import contract
from telephony.pbx_check.conf_files import DialplanContext, ShippedConf, read_shipped
from telephony.pbx_sim.wire import ASTERISK_VERSION

NUMBER = contract.TRUNK_NUMBER_PLACEHOLDER
_TRUE = ("yes", "true", "y", "t", "1", "on")


@cache
def shipped() -> ShippedConf:
    return read_shipped()


def _shipped_dialplan() -> dict[str, DialplanContext]:
    return copy.deepcopy(shipped().dialplan)


@dataclass
class PbxSite:
    version: str = ASTERISK_VERSION  # CoreSettings' AsteriskVersion
    # manager.conf `read=` / `write=` of the AMI user; None: `all`.
    read_classes: frozenset[str] | None = None
    write_classes: frozenset[str] | None = None
    dialplan: dict[str, DialplanContext] = field(default_factory=_shipped_dialplan)
    # [globals] set differently from asterisk-conf (an empty value: not set at all).
    globals: dict[str, str] = field(default_factory=dict)
    # queues.conf settings per queue, where they differ from asterisk-conf.
    strategy: dict[str, str] = field(default_factory=dict)
    ringinuse: dict[str, bool] = field(default_factory=dict)
    # CC_MONITOR_DIR as Asterisk reports it; None: the simulator's recordings directory.
    # The files are always written into the simulator's recordings directory, so another
    # value plays a PBX whose recordings directory is mounted there under another path.
    monitor_dir: str | None = None

    def queue_strategy(self, queue: str) -> str:
        return self.strategy.get(queue) or self._queue_setting(queue, "strategy") or "ringall"

    def queue_ringinuse(self, queue: str) -> bool:
        if queue in self.ringinuse:
            return self.ringinuse[queue]
        return (self._queue_setting(queue, "ringinuse") or "yes").lower() in _TRUE

    @staticmethod
    def _queue_setting(queue: str, key: str) -> str | None:
        conf = shipped()
        section = queue if queue in conf.queues else conf.globals.get(contract.GLOBAL_QUEUE, "")
        return conf.queue_setting(section, key)

    def globals_for(
        self, *, trunk_endpoint: str, queue: str, callback_queue: str, recordings_dir: Path
    ) -> dict[str, str]:
        """[globals] as the simulated dialplan has them: asterisk-conf's, with the names of the
        simulator's own trunk, queues and recordings directory, then this site's changes."""
        values = dict(shipped().globals)
        values.update(
            {
                contract.GLOBAL_TRUNK: f"PJSIP/{NUMBER}@{trunk_endpoint}",
                contract.GLOBAL_QUEUE: queue,
                contract.GLOBAL_CALLBACK_QUEUE: callback_queue,
                contract.GLOBAL_MONITOR_DIR: self.monitor_dir or str(recordings_dir.resolve()),
            }
        )
        values.update(self.globals)
        return values
