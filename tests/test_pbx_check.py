"""`callcentre pbx check` against the PBX simulator: a healthy PBX passes, and each
misconfiguration the check knows turns its line red with the fix; plus the pure checks."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from crm.clock import SystemClock
from crm.settings import Settings, load_settings
from telephony import contract
from telephony.pbx_check.checks import (
    check_version,
    check_write_classes,
    parse_version,
    run_checks,
    trunk_target,
)
from telephony.pbx_check.conf_files import ConfError, Step, parse_sections, read_shipped
from telephony.pbx_check.expectations import expectations
from telephony.pbx_check.facts import (
    DirectoryFacts,
    LiveQueue,
    PbxFacts,
    Refused,
    SelfTestFacts,
    TrunkFacts,
    TrunkKind,
    TrunkTarget,
)
from telephony.pbx_check.results import CheckResult, Status, exit_status
from telephony.pbx_check.run import check_pbx
from telephony.pbx_check.session import CannotConnect
from telephony.pbx_sim import PbxSimulator, StaticMember
from telephony.pbx_sim.site import PbxSite
from tests.test_pbx_sim_support import RawAmi, address, running

ROOT = Path(__file__).resolve().parents[1]
SECRET = "callcentre-test-secret"


def site(**changes: Any) -> PbxSite:
    """The shipped configuration with the manager user's rights of asterisk-conf/."""
    rights = {
        "read_classes": contract.AMI_READ_CLASSES,
        "write_classes": contract.AMI_WRITE_CLASSES,
    }
    return PbxSite(**{**rights, **changes})


def server_settings(sim: PbxSimulator, **overrides: Any) -> Settings:
    host, port = address(sim)
    values: dict[str, Any] = {
        "ami_host": host,
        "ami_port": port,
        "ami_user": "callcentre",
        "ami_secret": SECRET,
        "ami_action_timeout": 5.0,
        "recordings_dir": sim.config.recordings_dir,
    }
    return load_settings(**{**values, **overrides})


async def check(
    tmp_path: Path, *, sim_options: dict[str, Any] | None = None, call: bool = True, **settings: Any
) -> dict[str, CheckResult]:
    options = {"secret": SECRET, "site": site(), **(sim_options or {})}
    (tmp_path / "rec").mkdir(exist_ok=True)
    async with running(tmp_path, **options) as sim:
        results = await check_pbx(
            server_settings(sim, **settings), call=call, wait_recording=1.0, clock=SystemClock()
        )
    by_check = {r.check: r for r in results}
    assert len(by_check) == len(results), "check ids are unique"
    return by_check


def failed(results: dict[str, CheckResult]) -> dict[str, CheckResult]:
    return {k: r for k, r in results.items() if r.status is Status.FAIL}


def only_failure(results: dict[str, CheckResult], check_id: str) -> CheckResult:
    assert set(failed(results)) == {check_id}, {k: r.found for k, r in failed(results).items()}
    assert exit_status(results.values()) == 1
    return results[check_id]


# -- a healthy PBX --------------------------------------------------------------------------


async def test_a_healthy_pbx_passes_every_check(tmp_path: Path) -> None:
    results = await check(tmp_path)
    not_ok = {k: (r.status, r.found) for k, r in results.items() if r.status is not Status.OK}
    assert not not_ok
    assert exit_status(results.values()) == 0
    expected_ids = {f"dialplan.{c}" for c in contract.CONTEXTS} | {
        "asterisk.version", "ami.write", "ami.events", "ami.read", "dialplan.globals",
        "queue.service", "queue.callbacks", "trunk", "recordings.server_dir",
        "recordings.selftest",
    }  # fmt: skip
    assert set(results) == expected_ids
    assert "22.10.1" in results["asterisk.version"].found
    assert "agent, call, dialplan, system" in results["ami.read"].found
    assert "strategy=ringall, ringinuse=no" in results["queue.service"].found
    assert "PJSIP endpoint trunk exists" in results["trunk"].found
    # The test recording was found where the server reads recordings, then removed.
    assert "the server reads" in results["recordings.selftest"].found
    assert not list((tmp_path / "rec").glob("cc-selftest-*.wav"))


async def test_the_probe_member_is_gone_and_queues_are_as_before(tmp_path: Path) -> None:
    (tmp_path / "rec").mkdir()
    async with running(tmp_path, secret=SECRET, site=site()) as sim:
        await check_pbx(server_settings(sim), call=False, clock=SystemClock())
        assert all(not q.members for q in sim.pbx.queues.values())


# -- AMI rights and events ------------------------------------------------------------------


async def test_a_missing_write_class_names_the_actions_and_the_manager_line(
    tmp_path: Path,
) -> None:
    rights = site(write_classes=contract.AMI_WRITE_CLASSES - {"originate"})
    results = await check(tmp_path, sim_options={"site": rights})
    result = results["ami.write"]
    assert result.status is Status.FAIL
    assert "Originate (needs originate)" in result.found
    assert "manager.conf, section [callcentre]: write = agent,call,originate,reporting" in (
        result.fix
    )
    assert 'asterisk -rx "manager reload"' in result.fix
    # Without Originate the test call cannot be placed either.
    assert results["recordings.selftest"].status is Status.FAIL
    assert "Permission denied" in results["recordings.selftest"].found


async def test_more_write_classes_than_needed_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    rights = site(write_classes=contract.AMI_WRITE_CLASSES | {"system"})
    results = await check(tmp_path, sim_options={"site": rights})
    assert results["ami.write"].status is Status.WARN
    assert "MixMonitor" in results["ami.write"].found
    assert exit_status(results.values()) == 0


async def test_a_missing_read_class_fails_with_the_read_line(tmp_path: Path) -> None:
    rights = site(read_classes=contract.AMI_READ_CLASSES - {"agent"})
    result = only_failure(await check(tmp_path, sim_options={"site": rights}), "ami.read")
    assert "agent: no event after adding a paused probe member" in result.found
    assert "read = agent,call,dialplan,system" in result.fix


async def test_events_off_fails_the_events_line(tmp_path: Path) -> None:
    results = await check(tmp_path, sim_options={"site": site(read_classes=frozenset())})
    assert results["ami.events"].status is Status.FAIL
    assert "no event arrived" in results["ami.events"].found
    assert "read = agent,call,dialplan,system" in results["ami.events"].fix
    assert results["ami.read"].status is Status.FAIL


async def test_an_old_asterisk_fails_and_a_new_point_release_warns(tmp_path: Path) -> None:
    old = await check(tmp_path, sim_options={"site": site(version="18.20.0")}, call=False)
    assert old["asterisk.version"].status is Status.FAIL
    assert "install Asterisk 22 LTS" in old["asterisk.version"].fix
    early = check_version(_facts(core={"AsteriskVersion": "22.0.0", "AMIversion": "11.0.0"}))
    assert early.status is Status.WARN and "eventfilter" in early.found


# -- dialplan -------------------------------------------------------------------------------


async def test_a_missing_context_is_red_with_the_copy_instruction(tmp_path: Path) -> None:
    broken = site()
    del broken.dialplan[contract.CONTEXT_CALLBACK]
    result = only_failure(await check(tmp_path, sim_options={"site": broken}), "dialplan.callback")
    assert result.found == "context [callback] does not exist"
    assert "copy [callback] from" in result.fix and "extensions.conf" in result.fix
    assert 'asterisk -rx "dialplan reload"' in result.fix


async def test_a_missing_extension_is_red(tmp_path: Path) -> None:
    broken = site()
    del broken.dialplan[contract.CONTEXT_OUTBOUND].extensions["dial"]
    result = only_failure(await check(tmp_path, sim_options={"site": broken}), "dialplan.outbound")
    assert result.found == "extensions missing: dial"


async def test_a_changed_step_is_a_warning(tmp_path: Path) -> None:
    changed = site()
    steps = changed.dialplan[contract.CONTEXT_INBOUND].extensions["inbound"]
    steps[-1] = Step(steps[-1].priority, "Hangup", "")
    results = await check(tmp_path, sim_options={"site": changed}, call=False)
    assert results["dialplan.from-trunk"].status is Status.WARN
    assert "inbound 11: Hangup() (shipped 11: Hangup(16))" in results["dialplan.from-trunk"].found


async def test_the_old_dial_through_cc_trunk_as_an_endpoint_is_red(tmp_path: Path) -> None:
    old = site()
    steps = old.dialplan[contract.CONTEXT_CALLBACK].extensions["dial"]
    index = next(i for i, s in enumerate(steps) if s.app == "Dial")
    steps[index] = Step(
        steps[index].priority, "Dial", "PJSIP/${CC_CUSTOMER_NUMBER}@${CC_TRUNK},${CC_DIAL_TIMEOUT}"
    )
    results = await check(tmp_path, sim_options={"site": old}, call=False)
    assert results["trunk"].status is Status.FAIL
    assert "still dials ${CC_TRUNK} as an endpoint name at callback,dial,7" in (
        results["trunk"].found
    )
    assert results["dialplan.callback"].status is Status.WARN


async def test_unset_global_and_queue_name_mismatch_are_red(tmp_path: Path) -> None:
    unset = await check(
        tmp_path, sim_options={"site": site(globals={"CC_MONITOR_DIR": ""})}, call=False
    )
    result = unset["dialplan.globals"]
    assert result.status is Status.FAIL and result.found == "not set: CC_MONITOR_DIR"
    assert "CC_MONITOR_DIR = /var/spool/asterisk/monitor" in result.fix
    other = await check(tmp_path, sim_options={"site": site(globals={"CC_QUEUE": "sales"})})
    result = only_failure(other, "dialplan.globals")
    assert "CC_QUEUE = sales but the server's CALLCENTRE_QUEUE = service" in result.found


# -- queues ---------------------------------------------------------------------------------


async def test_a_ringing_strategy_other_than_ringall_is_red(tmp_path: Path) -> None:
    wrong = site(strategy={"service": "rrmemory"})
    result = only_failure(await check(tmp_path, sim_options={"site": wrong}), "queue.service")
    assert result.found.startswith("strategy rrmemory, not ringall")
    assert result.fix == (
        "/etc/asterisk/queues.conf [service]: strategy = ringall — then "
        'asterisk -rx "queue reload all service"'
    )


async def test_ringinuse_yes_is_red(tmp_path: Path) -> None:
    wrong = site(ringinuse={"callbacks": True})
    result = only_failure(await check(tmp_path, sim_options={"site": wrong}), "queue.callbacks")
    assert "ringinuse = yes" in result.found
    assert "queues.conf [callbacks]: ringinuse = no" in result.fix


async def test_a_member_with_ringinuse_on_is_red(tmp_path: Path) -> None:
    (tmp_path / "rec").mkdir()
    async with running(tmp_path, secret=SECRET, site=site(read_classes=None)) as sim:
        ami = await RawAmi.connect(address(sim), secret=SECRET)
        added = await ami.action("QueueAdd", Queue="service", Interface="PJSIP/1001")
        assert added["Response"] == "Success"
        sim.pbx.queues["service"].members["PJSIP/1001"].ringinuse = True
        results = {
            r.check: r
            for r in await check_pbx(server_settings(sim), call=False, clock=SystemClock())
        }
        ami.close()
    result = results["queue.service"]
    assert result.status is Status.FAIL
    assert "member PJSIP/1001 has ringinuse yes" in result.found
    assert 'asterisk -rx "queue set ringinuse no on PJSIP/1001 in service"' in result.fix


async def test_a_member_the_server_does_not_manage_is_red(tmp_path: Path) -> None:
    members = {"service": [StaticMember("SIP/alice", "Alice")]}
    results = await check(tmp_path, sim_options={"static_members": members}, call=False)
    result = results["queue.service"]
    assert result.status is Status.FAIL
    assert "member SIP/alice is not an agent interface the server manages" in result.found
    assert "queue remove member SIP/alice from service" in result.fix


async def test_a_static_agent_member_is_a_warning(tmp_path: Path) -> None:
    members = {"service": [StaticMember("PJSIP/1001", "Agent 1001")]}
    results = await check(tmp_path, sim_options={"static_members": members}, call=False)
    assert results["queue.service"].status is Status.WARN
    assert "static member PJSIP/1001" in results["queue.service"].found


async def test_a_missing_queue_is_red(tmp_path: Path) -> None:
    results = await check(tmp_path, sim_options={"queues": ("service",)})
    result = only_failure(results, "queue.callbacks")
    assert result.found == "queue callbacks does not exist"
    assert "copy [callbacks] from" in result.fix and "queue reload all callbacks" in result.fix


# -- trunk ----------------------------------------------------------------------------------


async def test_cc_trunk_without_the_number_placeholder_is_red(tmp_path: Path) -> None:
    wrong = site(globals={"CC_TRUNK": "trunk"})
    result = only_failure(await check(tmp_path, sim_options={"site": wrong}), "trunk")
    assert result.found == "CC_TRUNK = trunk has no {number}: outside numbers would not be dialled"
    assert "CC_TRUNK = PJSIP/{number}@carrier" in result.fix
    assert "IAX2/provider/{number}" in result.fix and "Local/{number}@from-internal" in result.fix


async def test_cc_trunk_naming_a_missing_pjsip_endpoint_is_red(tmp_path: Path) -> None:
    wrong = site(globals={"CC_TRUNK": "PJSIP/{number}@nosuch"})
    results = await check(tmp_path, sim_options={"site": wrong}, call=False)
    assert results["trunk"].status is Status.FAIL
    assert results["trunk"].found == "PJSIP/{number}@nosuch: no PJSIP endpoint nosuch"


async def test_a_freepbx_route_is_checked_through_its_context(tmp_path: Path) -> None:
    freepbx = site(globals={"CC_TRUNK": "Local/{number}@from-internal"})
    missing = await check(tmp_path, sim_options={"site": freepbx}, call=False)
    assert missing["trunk"].status is Status.FAIL
    assert "context [from-internal] does not exist" in missing["trunk"].found
    freepbx.dialplan["from-internal"] = read_shipped().dialplan[contract.CONTEXT_OUTBOUND]
    present = await check(
        tmp_path,
        sim_options={"site": freepbx},
        call=False,
        trunk_dial_template="Local/{number}@from-internal",
    )
    assert present["trunk"].status is Status.OK
    assert present["trunk"].found == "Local/{number}@from-internal: context [from-internal] exists"


async def test_a_server_template_other_than_cc_trunk_is_a_warning(tmp_path: Path) -> None:
    results = await check(tmp_path, call=False, trunk_dial_template="PJSIP/{number}@carrier")
    assert results["trunk"].status is Status.WARN
    assert "CALLCENTRE_TRUNK_DIAL_TEMPLATE=PJSIP/{number}@trunk" in results["trunk"].fix


# -- recordings -----------------------------------------------------------------------------


async def test_recordings_not_shared_with_the_server_are_red(tmp_path: Path) -> None:
    elsewhere = tmp_path / "server-recordings"
    elsewhere.mkdir()
    result = only_failure(await check(tmp_path, recordings_dir=elsewhere), "recordings.selftest")
    assert "the server does not see it" in result.found
    assert f"CALLCENTRE_RECORDINGS_DIR ({elsewhere})" in result.fix
    assert "chown asterisk:" in result.fix


async def test_recordings_mounted_under_another_path_are_found_through_the_pbx_dir(
    tmp_path: Path,
) -> None:
    mounted = site(monitor_dir="/srv/pbx/monitor")
    results = await check(
        tmp_path, sim_options={"site": mounted}, recordings_pbx_dir="/srv/pbx/monitor"
    )
    assert results["recordings.selftest"].status is Status.OK
    assert "Asterisk recorded /srv/pbx/monitor/cc-selftest-" in results["recordings.selftest"].found
    wrong = await check(tmp_path, sim_options={"site": mounted})
    result = only_failure(wrong, "recordings.selftest")
    assert "CALLCENTRE_RECORDINGS_PBX_DIR=/srv/pbx/monitor" in result.fix


async def test_a_missing_server_recordings_dir_is_red(tmp_path: Path) -> None:
    results = await check(tmp_path, recordings_dir=tmp_path / "nowhere", call=False)
    result = results["recordings.server_dir"]
    assert result.status is Status.FAIL
    assert result.found == f"CALLCENTRE_RECORDINGS_DIR {tmp_path / 'nowhere'} does not exist"


async def test_without_the_selftest_context_the_test_call_fails(tmp_path: Path) -> None:
    broken = site()
    del broken.dialplan[contract.CONTEXT_SELFTEST]
    results = await check(tmp_path, sim_options={"site": broken})
    assert results["dialplan.cc-selftest"].status is Status.FAIL
    assert results["recordings.selftest"].status is Status.FAIL
    assert "Originate: Extension does not exist." in results["recordings.selftest"].found


# -- cannot connect -------------------------------------------------------------------------


async def test_a_wrong_secret_cannot_log_in_and_never_shows_the_secret(tmp_path: Path) -> None:
    async with running(tmp_path, secret=SECRET) as sim:
        settings = server_settings(sim, ami_secret="not-the-secret")
        with pytest.raises(CannotConnect) as caught:
            await check_pbx(settings, call=False, clock=SystemClock())
    assert "Authentication failed" in str(caught.value)
    assert "not-the-secret" not in str(caught.value)


# -- the command ----------------------------------------------------------------------------


async def _command(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "web.cli",
        "pbx",
        "check",
        *args,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def _env(sim: PbxSimulator, **extra: str) -> dict[str, str]:
    host, port = address(sim)
    return {
        "CALLCENTRE_AMI_HOST": host,
        "CALLCENTRE_AMI_PORT": str(port),
        "CALLCENTRE_AMI_SECRET": SECRET,
        "CALLCENTRE_RECORDINGS_DIR": str(sim.config.recordings_dir),
        **extra,
    }


async def test_the_command_exits_0_1_2_and_speaks_json(tmp_path: Path) -> None:
    (tmp_path / "rec").mkdir()
    async with running(tmp_path, secret=SECRET, site=site()) as sim:
        code, out, err = await _command(_env(sim), "--json")
        assert code == 0, err
        document = json.loads(out)
        assert document["exit_status"] == 0
        assert {r["status"] for r in document["results"]} == {"ok"}

        sim.config.site.strategy["service"] = "linear"
        code, out, err = await _command(_env(sim), "--no-call")
        assert code == 1, err
        assert "FAIL queue.service  strategy linear, not ringall" in out
        assert "fix: /etc/asterisk/queues.conf [service]: strategy = ringall" in out

        code, out, err = await _command(_env(sim, CALLCENTRE_AMI_SECRET="wrong-one"), "--json")
        assert code == 2
        assert out == ""
        assert "cannot log in to the PBX's AMI" in err and "Authentication failed" in err
        assert "wrong-one" not in err
    code, _, err = await _command(_env(sim), "--no-call")  # the simulator has stopped
    assert code == 2 and "cannot log in" in err


# -- the pure part --------------------------------------------------------------------------


def _facts(**changes: Any) -> PbxFacts:
    values: dict[str, Any] = {
        "user": "callcentre",
        "core": {"AsteriskVersion": "22.10.1", "AMIversion": "11.0.0"},
        "commands": {},
        "events": [],
        "exercised": {},
        "globals": {},
        "dialplan": {},
        "queues": {},
        "trunk": None,
        "recordings_dir": DirectoryFacts(Path("/r"), True, True, True),
        "selftest": None,
    }
    values.update(changes)
    return PbxFacts(**values)


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("22.10.1", (22, 10)),
        ("20.11.0-rc1", (20, 11)),
        ("certified-20.7-cert5", (20, 7)),
        ("GIT-master-1234abc", None),
    ],
)
def test_versions_are_read_as_asterisk_writes_them(text: str, version: Any) -> None:
    assert parse_version(text) == version


@pytest.mark.parametrize(
    ("template", "target"),
    [
        ("PJSIP/{number}@carrier", TrunkTarget(TrunkKind.PJSIP, "carrier")),
        ("IAX2/provider/{number}", TrunkTarget(TrunkKind.OTHER, "IAX2")),
        ("DAHDI/g0/{number}", TrunkTarget(TrunkKind.OTHER, "DAHDI")),
        ("Local/{number}@from-internal", TrunkTarget(TrunkKind.LOCAL, "from-internal")),
        ("Local/{number}@from-internal/n", TrunkTarget(TrunkKind.LOCAL, "from-internal")),
        ("carrier", None),
    ],
)
def test_trunk_templates_name_what_can_be_looked_at(template: str, target: Any) -> None:
    assert trunk_target(template) == target


def _settings() -> Settings:
    return load_settings()


def test_facts_mirroring_the_shipped_files_pass_and_each_change_fails() -> None:
    expected = expectations(_settings())
    every_event = [(n, frozenset({c, "all"})) for n, c in (
        ("FullyBooted", "system"), ("QueueMemberAdded", "agent"), ("Newchannel", "call"),
        ("VarSet", "dialplan"),
    )]  # fmt: skip
    globals_ = dict(expected.globals)
    globals_["CC_TRUNK"] = "PJSIP/{number}@trunk"
    healthy = _facts(
        commands={a: expected.action_privileges[a] for a in expected.actions},
        events=every_event,
        exercised=dict.fromkeys(("system", "agent", "call", "dialplan"), "x"),
        globals=globals_,
        dialplan={n: dict(c.extensions) for n, c in expected.contexts.items()},
        queues={q.name: LiveQueue(q.name, "ringall", (), False) for q in expected.queues},
        trunk=TrunkFacts(TrunkTarget(TrunkKind.PJSIP, "trunk"), True),
        selftest=SelfTestFacts("OriginateResponse Success, reason 4", "/m/x.wav", Path("/r/x")),
    )
    assert {r.status for r in run_checks(healthy, expected)} == {Status.OK}

    def one_change(**change: Any) -> list[CheckResult]:
        facts = _facts(**{**healthy.__dict__, **change})
        return [r for r in run_checks(facts, expected) if r.status is Status.FAIL]

    refused = Refused("ListCommands", "Permission denied")
    assert [r.check for r in one_change(commands=refused)] == ["ami.write"]
    assert [r.check for r in one_change(events=[])] == ["ami.events", "ami.read"]
    no_queue: dict[str, Any] = {**healthy.queues, "service": None}
    assert [r.check for r in one_change(queues=no_queue)] == ["queue.service"]
    unreadable = DirectoryFacts(Path("/r"), True, True, False)
    assert [r.check for r in one_change(recordings_dir=unreadable)] == ["recordings.server_dir"]


def test_a_user_with_system_write_is_warned() -> None:
    expected = expectations(_settings())
    commands = {a: expected.action_privileges[a] for a in expected.actions}
    commands["GetConfig"] = frozenset({"system", "config"})
    result = check_write_classes(_facts(commands=commands), expected)
    assert result.status is Status.WARN and "GetConfig" in result.found


def test_the_shipped_dialplan_is_numbered_like_pbx_config() -> None:
    shipped = read_shipped()
    dial = shipped.dialplan[contract.CONTEXT_CALLBACK].extensions["dial"]
    assert [s.priority for s in dial] == list(range(1, 9))
    assert dial[6] == Step(
        7, "Dial", "${STRREPLACE(CC_TRUNK,{number},${CC_CUSTOMER_NUMBER})},${CC_DIAL_TIMEOUT}"
    )
    selftest = shipped.dialplan[contract.CONTEXT_SELFTEST].extensions
    assert [s.app for s in selftest["_XXXXXX."]] == ["Answer", "MixMonitor", "Wait", "Hangup"]
    assert shipped.globals["CC_TRUNK"] == "PJSIP/{number}@carrier"


@pytest.mark.parametrize(
    "text",
    ["#include other.conf\n", "[ctx\nexten => s,1,NoOp()\n", "exten => s,1,NoOp()\n"],
)
def test_config_the_reader_cannot_take_apart_is_a_clear_error(text: str) -> None:
    with pytest.raises(ConfError, match=r"x\.conf:1"):
        parse_sections(text, "x.conf")


def test_agent_interfaces_follow_the_servers_template() -> None:
    expected = expectations(_settings())
    agent: Callable[[str], str | None] = expected.agent_extension
    assert agent("PJSIP/1001") == "1001"
    assert agent("PJSIP/alice") is None
    assert agent("SIP/1001") is None
    local = expectations(load_settings(agent_interface_template="Local/{extension}@agents/n"))
    assert local.agent_extension("Local/1002@agents/n") == "1002"
