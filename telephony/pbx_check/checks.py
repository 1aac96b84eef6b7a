"""The judgements of `callcentre pbx check`: facts gathered from the PBX against what the
product needs. Pure: no I/O, so every misconfiguration is a unit test.

Each fix names the concrete change: the manager.conf / queues.conf / extensions.conf line,
and the `asterisk -rx` command that applies it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from telephony import contract
from telephony.ami.vocabulary import QueueMembership
from telephony.pbx_check.conf_files import Step
from telephony.pbx_check.expectations import Expectations, QueueExpectation
from telephony.pbx_check.facts import (
    LiveQueue,
    PbxFacts,
    Refused,
    TrunkFacts,
    TrunkKind,
    TrunkTarget,
)
from telephony.pbx_check.results import CheckResult, fail, ok, warn

# Write classes that the server never needs and that open the PBX up: with `system`,
# Originate may run System()/Exec(); GetConfig reads pjsip.conf's secrets (`config`);
# Command runs any CLI command (`command`).
DANGEROUS_WRITE = frozenset({"system", "command", "config"})
MANAGER_RELOAD = 'asterisk -rx "manager reload"'
DIALPLAN_RELOAD = 'asterisk -rx "dialplan reload"'


def run_checks(facts: PbxFacts, expected: Expectations) -> list[CheckResult]:
    return [
        check_version(facts),
        check_write_classes(facts, expected),
        check_events(facts, expected),
        check_read_classes(facts, expected),
        *check_dialplan(facts, expected),
        check_globals(facts, expected),
        *(check_queue(facts.queues.get(q.name), q, facts, expected) for q in expected.queues),
        check_trunk(facts, expected),
        check_recordings_dir(facts),
        check_recording_selftest(facts, expected),
    ]


# -- Asterisk itself ----------------------------------------------------------------------


def parse_version(text: str) -> tuple[int, int] | None:
    """(major, minor) of `22.10.1`, `20.11.0-rc1`, `certified-20.7-cert5`; None if unreadable."""
    match = re.search(r"(\d+)\.(\d+)", text)
    return (int(match[1]), int(match[2])) if match else None


def check_version(facts: PbxFacts) -> CheckResult:
    name = "asterisk.version"
    if isinstance(facts.core, Refused):
        return warn(name, f"version not read ({facts.core})", "see ami.write")
    text = facts.core.get("AsteriskVersion", "")
    found = f"Asterisk {text or '?'}, AMI {facts.core.get('AMIversion') or '?'}"
    version = parse_version(text)
    upgrade = "install Asterisk 22 LTS (the release asterisk-conf/ is written against)"
    if version is None:
        return warn(name, f"{found}: version not understood", upgrade)
    major, minor = version
    supported = contract.ASTERISK_SUPPORTED_MAJORS
    if major < supported[0]:
        return fail(name, f"{found}: older than {supported[0]}, not supported", upgrade)
    if major > supported[-1]:
        return warn(name, f"{found}: newer than the releases tested ({supported})")
    if major not in supported:
        return warn(name, f"{found}: not a long-term-support release", upgrade)
    since = contract.EVENTFILTER_SINCE.get(major)
    if since is not None and minor < since:
        return warn(
            name,
            f"{found}: before {major}.{since} the eventfilter lines of manager.conf are "
            "ignored and every event is sent (works, but noisy)",
            f"upgrade to {major}.{since} or later",
        )
    return ok(name, found)


# -- AMI rights and events ------------------------------------------------------------------


def _manager_line(facts: PbxFacts, key: str, classes: Iterable[str]) -> str:
    return (
        f"/etc/asterisk/manager.conf, section [{facts.user}]: {key} = {','.join(sorted(classes))}"
        f" — then {MANAGER_RELOAD}"
    )


def check_write_classes(facts: PbxFacts, expected: Expectations) -> CheckResult:
    name = "ami.write"
    fix = _manager_line(facts, "write", expected.write_classes)
    if isinstance(facts.commands, Refused):
        return fail(name, f"actions not listed ({facts.commands})", fix)
    missing = [a for a in expected.actions if a not in facts.commands]
    if missing:
        needs = ", ".join(
            f"{a} (needs {' or '.join(sorted(expected.action_privileges.get(a, ()))) or '?'})"
            for a in missing
        )
        return fail(name, f"not allowed: {needs}", fix)
    dangerous = sorted(
        a for a, classes in facts.commands.items() if classes and classes <= DANGEROUS_WRITE
    )
    if dangerous:
        shown = ", ".join(dangerous[:4]) + (", ..." if len(dangerous) > 4 else "")
        return warn(
            name,
            f"every action the server needs is allowed, and more than it needs: {shown} "
            "(system/config/command let Originate run System(), read secrets, run CLI commands)",
            fix,
        )
    return ok(name, f"the {len(expected.actions)} actions the server and this check use")


def _seen_classes(facts: PbxFacts) -> set[str]:
    return {c for _, classes in facts.events for c in classes} - {"all"}


def check_events(facts: PbxFacts, expected: Expectations) -> CheckResult:
    name = "ami.events"
    if facts.events:
        names = sorted({n for n, _ in facts.events})
        shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
        return ok(name, f"{len(facts.events)} events arrived ({shown})")
    if not facts.exercised:
        return warn(name, "nothing was done that would raise an event")
    return fail(
        name,
        "no event arrived after logging in with Events: on "
        f"(expected: {'; '.join(facts.exercised.values())}); read= is empty or an "
        "eventfilter drops everything",
        _manager_line(facts, "read", expected.read_classes)
        + "; keep the eventfilter lines of asterisk-conf/manager.conf",
    )


def check_read_classes(facts: PbxFacts, expected: Expectations) -> CheckResult:
    name = "ami.read"
    seen = _seen_classes(facts)
    missing = sorted(c for c in expected.read_classes if c not in seen and c in facts.exercised)
    untested = sorted(
        c for c in expected.read_classes if c not in seen and c not in facts.exercised
    )
    fix = _manager_line(facts, "read", expected.read_classes)
    if missing:
        why = "; ".join(f"{c}: no event after {facts.exercised[c]}" for c in missing)
        return fail(name, f"events not received — {why}", fix)
    if untested:
        return warn(
            name,
            f"{', '.join(sorted(expected.read_classes - set(untested)))} seen; "
            f"{', '.join(untested)} not verified (nothing raised their events)",
        )
    return ok(name, f"events of {', '.join(sorted(expected.read_classes))} received")


# -- dialplan -------------------------------------------------------------------------------


def _show(step: Step) -> str:
    return f"{step.priority}: {step.app}({step.data})"


def _diff_steps(shipped: list[Step], live: list[Step]) -> str | None:
    by_priority = {s.priority: s for s in live}
    for step in shipped:
        other = by_priority.get(step.priority)
        if other is None:
            return f"priority {step.priority} missing (shipped {_show(step)})"
        if (other.app.lower(), other.data) != (step.app.lower(), step.data):
            return f"{_show(other)} (shipped {_show(step)})"
    return None


def check_dialplan(facts: PbxFacts, expected: Expectations) -> list[CheckResult]:
    results = []
    for context, shipped in expected.contexts.items():
        name = f"dialplan.{context}"
        copy = (
            f"copy [{context}] from {expected.conf_dir}/extensions.conf into "
            f"/etc/asterisk/extensions.conf — then {DIALPLAN_RELOAD}"
        )
        live = facts.dialplan.get(context)
        if live is None or isinstance(live, Refused):
            if isinstance(live, Refused) and "did not find" not in live.message.lower():
                results.append(warn(name, f"not listed ({live})", "see ami.write"))
            else:
                results.append(fail(name, f"context [{context}] does not exist", copy))
            continue
        missing = [e for e in shipped.extensions if e not in live]
        if missing:
            shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
            results.append(fail(name, f"extensions missing: {shown}", copy))
            continue
        differences = [
            f"{exten} {diff}"
            for exten, steps in shipped.extensions.items()
            if (diff := _diff_steps(steps, live[exten])) is not None
        ]
        if differences:
            results.append(
                warn(
                    name,
                    f"{len(shipped.extensions)} extensions present; differs from "
                    f"asterisk-conf/: {differences[0]}"
                    + (f" (+{len(differences) - 1} more)" if len(differences) > 1 else ""),
                    f"if not a deliberate local change: {copy}",
                )
            )
            continue
        results.append(ok(name, f"{len(shipped.extensions)} extensions as shipped"))
    return results


def check_globals(facts: PbxFacts, expected: Expectations) -> CheckResult:
    name = "dialplan.globals"
    fix_line = (
        "/etc/asterisk/extensions.conf [globals]: {line} (as in asterisk-conf/extensions.conf)"
        f" — then {DIALPLAN_RELOAD}"
    )
    refused = [v for v in facts.globals.values() if isinstance(v, Refused)]
    if refused:
        return warn(name, f"globals not read ({refused[0]})", "see ami.write")
    values = {k: v for k, v in facts.globals.items() if isinstance(v, str)}
    unset = [k for k in expected.globals if not values.get(k)]
    if unset:
        line = "; ".join(f"{k} = {expected.globals[k]}" for k in unset)
        return fail(name, f"not set: {', '.join(unset)}", fix_line.format(line=line))
    for variable, setting, wanted in (
        (contract.GLOBAL_QUEUE, "CALLCENTRE_QUEUE", expected.queues[0].name),
        (contract.GLOBAL_CALLBACK_QUEUE, "CALLCENTRE_CALLBACK_QUEUE", expected.queues[-1].name),
    ):
        if variable in expected.globals and values.get(variable) != wanted:
            return fail(
                name,
                f"{variable} = {values.get(variable)} but the server's {setting} = {wanted}: "
                "calls would wait in a queue the server does not watch",
                fix_line.format(line=f"{variable} = {wanted}")
                + f", or set {setting}={values.get(variable)} for the server",
            )
    monitor = values.get(contract.GLOBAL_MONITOR_DIR, "")
    if contract.GLOBAL_MONITOR_DIR in expected.globals and not monitor.startswith("/"):
        return fail(
            name,
            f"{contract.GLOBAL_MONITOR_DIR} = {monitor} is not an absolute directory",
            fix_line.format(line=f"{contract.GLOBAL_MONITOR_DIR} = /var/spool/asterisk/monitor"),
        )
    return ok(name, ", ".join(f"{k}={values[k]}" for k in expected.globals))


# -- queues ---------------------------------------------------------------------------------


def check_queue(
    live: LiveQueue | Refused | None,
    want: QueueExpectation,
    facts: PbxFacts,
    expected: Expectations,
) -> CheckResult:
    name = f"queue.{want.name}"
    reload = f'asterisk -rx "queue reload all {want.name}"'
    setting = f"/etc/asterisk/queues.conf [{want.name}]: {{line}} — then {reload}"
    if isinstance(live, Refused):
        return fail(name, f"queue status not read ({live})", "see ami.write")
    if live is None:
        return fail(
            name,
            f"queue {want.name} does not exist",
            f"add [{want.name}] to /etc/asterisk/queues.conf (copy [{want.shipped}] from "
            f"{expected.conf_dir}/queues.conf) — then {reload}",
        )
    problems: list[tuple[str, str]] = []
    if live.strategy.lower() != want.strategy.lower():
        problems.append(
            (
                f"strategy {live.strategy}, not {want.strategy} (agents would be rung one at "
                "a time and miss the answer target)",
                setting.format(line=f"strategy = {want.strategy}"),
            )
        )
    if isinstance(live.ringinuse, bool) and live.ringinuse != want.ringinuse:
        problems.append(
            (
                f"ringinuse = {'yes' if live.ringinuse else 'no'} (agents on a call would be rung)",
                setting.format(line=f"ringinuse = {'yes' if want.ringinuse else 'no'}"),
            )
        )
    for member in live.members:
        if member.ringinuse is not None and member.ringinuse != want.ringinuse:
            value = "yes" if want.ringinuse else "no"
            problems.append(
                (
                    f"member {member.interface} has ringinuse "
                    f"{'yes' if member.ringinuse else 'no'}",
                    f'asterisk -rx "queue set ringinuse {value} on {member.interface} '
                    f'in {want.name}"',
                )
            )
        if expected.agent_extension(member.interface) is None:
            problems.append(
                (
                    f"member {member.interface} is not an agent interface the server manages "
                    f"(CALLCENTRE_AGENT_INTERFACE_TEMPLATE={expected.agent_interface_template}, "
                    f"extensions {expected.agent_extension_pattern})",
                    f'asterisk -rx "queue remove member {member.interface} from {want.name}"'
                    " (and remove its member => line from queues.conf)",
                )
            )
    if problems:
        found = "; ".join(p for p, _ in problems)
        fix = "; ".join(dict.fromkeys(f for _, f in problems))
        return fail(name, found, fix)
    notes = []
    for member in live.members:
        if member.membership is QueueMembership.STATIC:
            notes.append(
                (
                    f"static member {member.interface} (the server adds and removes agents "
                    "itself and cannot remove it)",
                    f"remove `member => {member.interface}` from queues.conf [{want.name}] — "
                    f"then {reload}",
                )
            )
        if member.interface.startswith("Local/") and member.state_interface.startswith("Local/"):
            notes.append(
                (
                    f"member {member.interface} has no StateInterface: its state is unknown "
                    "to the queue",
                    "QueueAdd it with StateInterface: PJSIP/<extension>",
                )
            )
    ringinuse = (
        f"ringinuse not verified ({live.ringinuse})"
        if isinstance(live.ringinuse, Refused)
        else "ringinuse not verified"
        if live.ringinuse is None
        else f"ringinuse={'yes' if live.ringinuse else 'no'}"
    )
    found = f"strategy={live.strategy}, {ringinuse}, {len(live.members)} members"
    if notes:
        return warn(
            name,
            found + "; " + "; ".join(n for n, _ in notes),
            "; ".join(dict.fromkeys(f for _, f in notes)),
        )
    if live.ringinuse is None or isinstance(live.ringinuse, Refused):
        return warn(name, found, "see ami.write (QueueAdd/QueueRemove need write class agent)")
    return ok(name, found)


# -- trunk ----------------------------------------------------------------------------------


def trunk_target(template: str) -> TrunkTarget | None:
    """What a CC_TRUNK template dials through; None when it is not `TECH/...`."""
    tech, slash, resource = template.partition("/")
    if not (slash and tech and resource):
        return None
    if tech.upper() == "PJSIP":
        _, at, endpoint = resource.partition("@")
        return TrunkTarget(TrunkKind.PJSIP, endpoint if at else resource)
    if tech.lower() == "local":
        _, at, rest = resource.partition("@")
        if at:
            return TrunkTarget(TrunkKind.LOCAL, rest.split("/", 1)[0])
        return TrunkTarget(TrunkKind.OTHER, tech)
    return TrunkTarget(TrunkKind.OTHER, tech)


def _trunk_dials(facts: PbxFacts) -> list[str]:
    """Live dialplan steps of the contract contexts that use CC_TRUNK without STRREPLACE."""
    raw = "${" + contract.GLOBAL_TRUNK + "}"
    stale = []
    for context, extensions in facts.dialplan.items():
        if isinstance(extensions, Refused):
            continue
        for exten, steps in extensions.items():
            stale += [f"{context},{exten},{s.priority}" for s in steps if raw in s.data]
    return stale


def check_trunk(facts: PbxFacts, expected: Expectations) -> CheckResult:
    name = "trunk"
    placeholder = contract.TRUNK_NUMBER_PLACEHOLDER
    variable = contract.GLOBAL_TRUNK
    value = facts.globals.get(variable)
    example = expected.globals.get(variable, f"PJSIP/{placeholder}@carrier")
    fix = (
        f"/etc/asterisk/extensions.conf [globals]: {variable} = {example} (a whole dial string "
        f"with {placeholder}: IAX2/provider/{placeholder}, DAHDI/g0/{placeholder}, "
        f"Local/{placeholder}@from-internal) — then {DIALPLAN_RELOAD}"
    )
    if isinstance(value, Refused):
        return warn(name, f"{variable} not read ({value})", "see ami.write")
    if not value:
        return fail(name, f"{variable} is not set", fix)
    if placeholder not in value:
        return fail(
            name,
            f"{variable} = {value} has no {placeholder}: outside numbers would not be dialled",
            fix,
        )
    stale = _trunk_dials(facts)
    if stale:
        return fail(
            name,
            f"the dialplan still dials ${{{variable}}} as an endpoint name at {stale[0]} "
            "(an extensions.conf from before CC_TRUNK became a dial string)",
            f"replace [{contract.CONTEXT_CALLBACK}] and [{contract.CONTEXT_OUTBOUND}] with "
            f"those of {expected.conf_dir}/extensions.conf — then {DIALPLAN_RELOAD}",
        )
    if facts.trunk is None:
        return fail(name, f"{variable} = {value} is not TECH/resource", fix)
    found, problem = _trunk_target_found(facts.trunk, value)
    if problem:
        return fail(name, found, problem)
    if value != expected.trunk_dial_template:
        return warn(
            name,
            f"{found}; the server's customer-first callbacks dial "
            f"{expected.trunk_dial_template} instead",
            f"CALLCENTRE_TRUNK_DIAL_TEMPLATE={value} (the same trunk for both)",
        )
    return ok(name, found)


def _trunk_target_found(trunk: TrunkFacts, value: str) -> tuple[str, str]:
    """(what was found, the fix if it is wrong)."""
    target, exists = trunk.target, trunk.exists
    if target.kind is TrunkKind.PJSIP:
        if exists is True:
            return f"{value}: PJSIP endpoint {target.name} exists{trunk.detail}", ""
        if exists is False:
            return (
                f"{value}: no PJSIP endpoint {target.name}",
                f"define endpoint [{target.name}] in /etc/asterisk/pjsip.conf (see "
                'asterisk-conf/pjsip.conf) — then asterisk -rx "module reload res_pjsip.so"; '
                'or point CC_TRUNK at the trunk\'s endpoint (asterisk -rx "pjsip show endpoints")',
            )
    if target.kind is TrunkKind.LOCAL:
        if exists is True:
            return f"{value}: context [{target.name}] exists", ""
        if exists is False:
            return (
                f"{value}: context [{target.name}] does not exist",
                f"create [{target.name}] (for FreePBX: from-internal, its outbound routes) or "
                f"point CC_TRUNK at an existing context — then {DIALPLAN_RELOAD}",
            )
    if isinstance(exists, Refused):
        return f"{value}: {target.name} not verified ({exists})", ""
    return f"{value}: {target.name} trunks cannot be looked at over AMI (not verified)", ""


# -- recordings -----------------------------------------------------------------------------


def check_recordings_dir(facts: PbxFacts) -> CheckResult:
    name = "recordings.server_dir"
    directory = facts.recordings_dir
    path = directory.path
    if not directory.exists:
        return fail(
            name,
            f"CALLCENTRE_RECORDINGS_DIR {path} does not exist",
            f"mount the PBX's recordings share there, or mkdir -p {path} and sync into it",
        )
    if not directory.is_dir:
        return fail(name, f"{path} is not a directory", "set CALLCENTRE_RECORDINGS_DIR")
    if not directory.readable:
        return fail(
            name,
            f"{path} is not readable by this user",
            f"chmod g+rx {path} and add this user to its group (on the PBX host: "
            "usermod -a -G asterisk <server user>)",
        )
    return ok(name, f"{path} exists and is readable")


def check_recording_selftest(facts: PbxFacts, expected: Expectations) -> CheckResult:
    name = "recordings.selftest"
    test = facts.selftest
    if test is None:
        return warn(name, f"not run: {facts.selftest_skipped or 'skipped'}")
    monitor = facts.globals.get(contract.GLOBAL_MONITOR_DIR)
    monitor_text = monitor if isinstance(monitor, str) and monitor else "CC_MONITOR_DIR"
    if isinstance(test.originate, Refused):
        return fail(
            name,
            f"the test call was refused ({test.originate})",
            f"see dialplan.{contract.CONTEXT_SELFTEST} and ami.write (Originate needs write "
            "class originate)",
        )
    if test.local_path is not None:
        return ok(name, f"Asterisk recorded {test.pbx_path}; the server reads {test.local_path}")
    return fail(
        name,
        f"Asterisk was asked to record {test.pbx_path} ({test.originate}); after "
        f"{test.waited:g} s the server does not see it: {test.problem}",
        f"make {monitor_text} writable by Asterisk (chown asterisk: {monitor_text}) and the "
        f"same files visible to the server: mount it at CALLCENTRE_RECORDINGS_DIR "
        f"({expected.recordings_dir}) with CALLCENTRE_RECORDINGS_PBX_DIR={monitor_text}, or "
        "serve it read-only and set CALLCENTRE_RECORDINGS_FETCH_URL; if it is synced "
        "periodically, run the check again after a sync (--wait-recording)",
    )
