"""The dialplan the simulator runs: the site's (asterisk-conf/ as shipped, unless a test plays
another PBX), the simulator's own direct-dial context, and the configured extra contexts;
its [globals] with the simulator's trunk, queues, recordings directory and timeouts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Protocol

from telephony.pbx_sim.config import SimulatorConfig
from telephony.pbx_sim.dialplan import Context, Dialplan, Step, context
from telephony.pbx_sim.scenario import seconds_text

# A customer who dials an agent's extension straight through the trunk
# (`SimInboundCall Extension=...`): the production dialplan sends every DID to the queue, so
# this context is the simulator's own.
SIM_DIRECT_DIAL = "sim-direct-dial"
SIM_CONTEXTS = {
    SIM_DIRECT_DIAL: context(
        {
            "_X.": [
                "NoOp(Inbound call from ${CALLERID(num)} to ${EXTEN})",
                "Set(CALL_TYPE=inbound)",
                "Set(CC_CUSTOMER_NUMBER=${FILTER(0123456789+,${CALLERID(num)})})",
                "Set(CC_REC_CUSTOMER=${CC_MONITOR_DIR}/${UNIQUEID}-customer.wav)",
                "Set(CC_REC_AGENT=${CC_MONITOR_DIR}/${UNIQUEID}-agent.wav)",
                "MixMonitor(${CC_MONITOR_DIR}/${UNIQUEID}.wav,br(${CC_REC_CUSTOMER})"
                "t(${CC_REC_AGENT}))",
                "Dial(PJSIP/${EXTEN},${CC_DIAL_TIMEOUT})",
                "Hangup()",
            ]
        }
    )
}


class _ParsedStep(Protocol):
    @property
    def priority(self) -> int: ...
    @property
    def app(self) -> str: ...
    @property
    def data(self) -> str: ...


class _ParsedContext(Protocol):
    @property
    def extensions(self) -> Mapping[str, Iterable[_ParsedStep]]: ...
    @property
    def includes(self) -> Iterable[str]: ...


def from_parsed(contexts: Mapping[str, _ParsedContext]) -> dict[str, Context]:
    """Contexts as telephony.pbx_check.conf_files reads them from extensions.conf."""
    return {
        name: Context(
            {
                exten: {step.priority: Step(step.app, step.data) for step in steps}
                for exten, steps in parsed.extensions.items()
            },
            tuple(parsed.includes),
        )
        for name, parsed in contexts.items()
    }


def build_dialplan(config: SimulatorConfig) -> Dialplan:
    contexts = {**from_parsed(config.site.dialplan), **SIM_CONTEXTS, **config.contexts}
    return Dialplan(contexts)


def dialplan_globals(config: SimulatorConfig, dialplan: Dialplan) -> dict[str, str]:
    """[globals]: the site's, with the queue wait and dial timeout the config gives (unless
    the site sets them itself)."""
    values = dict(dialplan.globals)
    values.update(
        config.site.globals_for(
            trunk_endpoint=config.trunk_endpoint,
            queue=config.inbound_queue,
            callback_queue=config.callback_queue,
            recordings_dir=Path(config.recordings_dir),
        )
    )
    for name, value in (
        ("CC_QUEUE_WAIT", seconds_text(config.queue_timeout)),
        ("CC_DIAL_TIMEOUT", seconds_text(config.dial_timeout)),
    ):
        if name not in config.site.globals:
            values[name] = value
    return values
