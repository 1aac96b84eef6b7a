"""The lab loads asterisk-conf/ as shipped: its rendered files differ from the shipped ones
only in the documented placeholders (addresses, ports, secrets, the recordings directory).
Runs everywhere, with or without an Asterisk."""

from __future__ import annotations

import math
import re
import wave
from array import array
from pathlib import Path

import pytest
from panoramisk.message import Message

from crm.calls.models import HungUpBy
from telephony.tracker import CallTracker
from tests.lab.audio import SILENCE_DBFS, measure
from tests.lab.availability import absent_reason
from tests.lab.conformance import role, sequences
from tests.lab.render import (
    SHIPPED,
    SHIPPED_FILES,
    SUBSTITUTIONS,
    ShippedConfigChanged,
    lab_secrets,
    lab_values,
    render_shipped,
)
from tests.lab.scaffold import MODULES, scaffold_files
from tests.lab.settings import LabSettingError, LabSettings
from tests.lab.truth import TrackerDisagreement, disagree

SETTINGS = LabSettings.from_environ(
    {"CALLCENTRE_LAB_ASTERISK": "/opt/asterisk", "CALLCENTRE_LAB_DIR": "/tmp/lab-test"}
)


def _without_comments(text: str | list[str]) -> list[str]:
    lines = text.splitlines() if isinstance(text, str) else text
    return [line.split(";")[0] for line in lines]


def _values(tmp_path: Path) -> dict[str, str]:
    return lab_values(SETTINGS, lab_secrets(tmp_path))


@pytest.mark.parametrize("name", SHIPPED_FILES)
def test_rendered_files_differ_only_in_documented_lines(name: str, tmp_path: Path) -> None:
    shipped = (SHIPPED / name).read_text().splitlines()
    rendered = render_shipped(name, "\n".join(shipped) + "\n", _values(tmp_path)).splitlines()
    assert len(rendered) == len(shipped)
    keys = {(s.key) for s in SUBSTITUTIONS if s.file == name}
    changed = [(a, b) for a, b in zip(shipped, rendered, strict=True) if a != b]
    assert len(changed) == sum(s.file == name for s in SUBSTITUTIONS)
    for before, after in changed:
        key = before.split("=")[0].strip()
        assert key in keys, f"undocumented change: {before!r} -> {after!r}"
        assert after.split("=")[0] == before.split("=")[0]  # same key, same layout
        if ";" in before:  # the comment is kept
            assert after.endswith(before[before.index(";") :])
    settings = "\n".join(_without_comments(rendered))
    assert "CHANGE_ME" not in settings and "sip.carrier.example" not in settings


def test_every_address_is_loopback_and_every_secret_is_random(tmp_path: Path) -> None:
    values = _values(tmp_path)
    files = [render_shipped(n, (SHIPPED / n).read_text(), values) for n in SHIPPED_FILES]
    text = "\n".join(_without_comments("".join(files + list(scaffold_files(SETTINGS).values()))))
    for address in re.findall(r"\b\d+\.\d+\.\d+\.\d+\b", text):
        if address not in ("0.0.0.0", "255.255.255.255"):
            assert address.startswith("127."), address
    assert "bind = 0.0.0.0" not in text
    secrets = [v for k, v in values.items() if "secret" in k]
    assert len(set(secrets)) == len(secrets) == 4 and all(len(s) >= 24 for s in secrets)
    assert lab_secrets(tmp_path) == {k: v for k, v in values.items() if "secret" in k}
    assert (tmp_path / "secrets.json").stat().st_mode & 0o077 == 0


def test_a_missing_placeholder_is_named(tmp_path: Path) -> None:
    shipped = (SHIPPED / "pjsip.conf").read_text()
    text = shipped.replace("match = 203.0.113.10", "match = x\nmatch = y")
    with pytest.raises(ShippedConfigChanged, match=r"\[carrier\] match: 2"):
        render_shipped("pjsip.conf", text, _values(tmp_path))


def test_lab_only_files_are_few_and_load_no_network_module() -> None:
    files = scaffold_files(SETTINGS)
    assert set(files) == {"asterisk.conf", "modules.conf", "logger.conf", "rtp.conf",
                          "cdr.conf", "cdr_manager.conf", "musiconhold.conf"}  # fmt: skip
    assert not set(files) & set(SHIPPED_FILES)
    assert "autoload = no" in files["modules.conf"]
    assert not {"chan_iax2", "res_http_websocket", "chan_unistim", "res_ari"} & set(MODULES)
    assert "astdatadir => /opt/asterisk/var/lib/asterisk" in files["asterisk.conf"]
    assert "astrundir => /tmp/lab-test/run" in files["asterisk.conf"]
    low, high = SETTINGS.ports.rtp
    assert f"rtpstart = {low}" in files["rtp.conf"] and high - low < 500


def test_settings_and_the_reason_the_lab_is_absent(tmp_path: Path) -> None:
    assert absent_reason({}) == (
        "CALLCENTRE_LAB_ASTERISK is not set (the prefix of an installed Asterisk 22)"
    )
    assert "no executable" in str(absent_reason({"CALLCENTRE_LAB_ASTERISK": str(tmp_path)}))
    (tmp_path / "sbin").mkdir()
    (tmp_path / "sbin" / "asterisk").write_text("")
    (tmp_path / "sbin" / "asterisk").chmod(0o755)
    reason = str(absent_reason({"CALLCENTRE_LAB_ASTERISK": str(tmp_path)}))
    assert "modules missing" in reason and "app_chanspy" in reason
    with pytest.raises(LabSettingError, match="CALLCENTRE_LAB_PORT_BASE"):
        LabSettings.from_environ({"CALLCENTRE_LAB_PORT_BASE": "80"})
    with pytest.raises(LabSettingError, match="absolute"):
        LabSettings.from_environ({"CALLCENTRE_LAB_DIR": "relative"})
    ports = LabSettings.from_environ({"CALLCENTRE_LAB_PORT_BASE": "20000"}).ports
    assert (ports.sip, ports.ami, ports.agent_sip(1) - ports.agent_sip(0)) == (20060, 20038, 10)


def test_measuring_a_recording_finds_the_speech(tmp_path: Path) -> None:
    path = tmp_path / "leg.wav"
    tone = [int(8000 * math.sin(i / 3)) for i in range(8000)]
    data = array("h", [0] * 4000 + tone + [0] * 4000 + [3000, -3000] * 200)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(data.tobytes())
    leg = measure(path)
    assert leg.seconds == pytest.approx(2.05)
    assert leg.first_sound() == pytest.approx(0.5) and leg.spans[0] == pytest.approx((0.5, 1.5))
    assert leg.level_between(1.6, 1.9) < SILENCE_DBFS < leg.level_between(0.6, 1.4)
    assert leg.heard_seconds == pytest.approx(1.05)  # the 50 ms click counts as heard...
    assert leg.first_sound(lasting=1.5) is None  # ...but is no word


def test_conformance_names_channels_by_role_and_keeps_what_the_tracker_reads() -> None:
    assert [role(c) for c in ("PJSIP/1001-0000000a", "Local/1002@agents-1;1",
                              "PJSIP/carrier-00000003", "PJSIP/trunk-1")] == [
        "agent:1001", "agent:1002", "customer", "customer"]  # fmt: skip

    def message(**fields: str) -> Message:
        return Message({"Linkedid": "1.1", **fields})

    events = [
        (0.0, message(Event="Newchannel", Channel="PJSIP/carrier-1")),
        (0.1, message(Event="VarSet", Channel="PJSIP/carrier-1", Variable="CALL_TYPE")),
        (0.2, message(Event="RTCPSent", Channel="PJSIP/carrier-1")),  # not the tracker's
        (0.3, Message({"Event": "DialBegin", "Channel": "PJSIP/carrier-1",
                       "DestChannel": "PJSIP/1001-2", "DestLinkedid": "1.1"})),
        (0.4, message(Event="DialEnd", Channel="PJSIP/carrier-1", DestChannel="PJSIP/1001-2")),
        (0.4, message(Event="DialEnd", Channel="PJSIP/carrier-1", DestChannel="PJSIP/1001-2")),
        (0.5, Message({"Event": "Hangup", "Channel": "PJSIP/carrier-9", "Linkedid": "2.2"})),
    ]  # fmt: skip
    steps = sequences(events, "1.1", CallTracker().handled_events)
    assert steps == {
        "customer": ["Newchannel", "VarSet:CALL_TYPE"],
        "agent:1001": ["DialBegin", "DialEnd"],  # the doubled DialEnd collapsed
    }


def test_a_disagreement_names_each_wrong_field() -> None:
    class Row:
        hung_up_by = HungUpBy.AGENT
        talk_seconds = 3.0
        hangup_cause = 16

    disagree(Row(), {"hangup_cause": 16, "talk_seconds": 3.9})  # within 1.2 s
    with pytest.raises(TrackerDisagreement) as caught:
        disagree(Row(), {"hung_up_by": "customer", "talk_seconds": 11.9, "hangup_cause": 16})
    assert str(caught.value) == (
        "hung_up_by: stored 'agent', truth 'customer'; talk_seconds: stored 3.0, truth 11.9"
    )
