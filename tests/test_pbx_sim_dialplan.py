"""The simulator's dialplan: Asterisk's extension patterns, `${...}` expansion, and the shipped
asterisk-conf/ contexts run on simulated channels."""

from __future__ import annotations

from pathlib import Path

import pytest

from telephony.pbx_sim.dialplan import Dialplan, best_match, context, expand, parse_step
from tests.test_pbx_sim_support import RawAmi, address, running

VARIABLES = {
    "CALLERID(num)": "+86 138-0013-8000",
    "CC_TRUNK": "PJSIP/{number}@carrier",
    "CC_CUSTOMER_NUMBER": "13900139000",
    "CALL_TYPE": "",
    "EMPTY": "",
}


def _resolve(name: str) -> str:
    return VARIABLES.get(name, "")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${FILTER(0123456789+,${CALLERID(num)})}", "+8613800138000"),
        (
            "${STRREPLACE(CC_TRUNK,{number},${CC_CUSTOMER_NUMBER})},30",
            "PJSIP/13900139000@carrier,30",
        ),
        ('${IF($["${CALL_TYPE}" = ""]?callback:${CALL_TYPE})}', "callback"),
        ('${IF($["${CC_CUSTOMER_NUMBER}" != ""]?yes:no)}', "yes"),
        ("Queue ${CC_QUEUE} gave up: ${EMPTY}", "Queue  gave up: "),
        ("no variables at all", "no variables at all"),
    ],
)
def test_expansion_follows_pbx_c(text: str, expected: str) -> None:
    assert expand(text, _resolve) == expected


def test_unterminated_expressions_are_refused() -> None:
    with pytest.raises(ValueError, match="unterminated"):
        expand("${CALLERID(num)", _resolve)
    with pytest.raises(ValueError, match="unbalanced"):
        parse_step("Dial(PJSIP/1001")


def test_the_most_specific_extension_wins() -> None:
    names = ["_X.", "_1[3-9]XXXXXXXXX", "_dialstatus-.", "dialstatus-BUSY", "s", "_XXXX"]
    assert best_match(names, "13900139000") == "_1[3-9]XXXXXXXXX"
    assert best_match(names, "12900139000") == "_X."
    assert best_match(names, "1001") == "_XXXX"
    assert best_match(names, "dialstatus-BUSY") == "dialstatus-BUSY"
    assert best_match(names, "dialstatus-ANSWER") == "_dialstatus-."
    assert best_match(names, "s") == "s"
    assert best_match(names, "abc") is None


def test_includes_are_searched_after_the_context_itself() -> None:
    plan = Dialplan(
        {
            "phones": context({"_XXXX": ["Dial(PJSIP/${EXTEN})"]}),
            "outside": context({"_1XXXXXXXXXX": ["Dial(trunk)"]}),
            "from-agents": context({"9": ["NoOp()"]}, includes=("phones", "outside")),
        }
    )
    assert plan.find("from-agents", "1001") == ("phones", "_XXXX")
    assert plan.find("from-agents", "13900139000") == ("outside", "_1XXXXXXXXXX")
    assert plan.find("from-agents", "9") == ("from-agents", "9")
    assert plan.find("nowhere", "9") is None
    assert plan.step("phones", "_XXXX", 1) == parse_step("Dial(PJSIP/${EXTEN})")
    assert plan.step("phones", "_XXXX", 2) is None


async def test_click_to_call_runs_the_shipped_outbound_context(tmp_path: Path) -> None:
    """asterisk-conf [outbound]: CALL_TYPE defaults to callback, Dial through the CC_TRUNK
    template; a busy customer sends the agent's leg to dialstatus-BUSY: Hangup(17)."""
    async with running(tmp_path) as sim:
        ami = await RawAmi.connect(address(sim))
        ami.send(
            "Originate", ActionID="c2c", Channel="PJSIP/1001", Context="outbound",
            Exten="13700137000", Priority="1", Async="true", CallerID="1001",
        )  # fmt: skip
        response = await ami.wait_event(lambda m: m.is_event("OriginateResponse"))
        agent = response["Channel"]
        hangup = await ami.wait_event(lambda m: m.is_event("Hangup", Channel=agent), 10)
        assert hangup["Cause"] == "17"
        variables = {m["Variable"]: m["Value"] for m in ami.events("VarSet", Channel=agent)}
        assert (variables["CALL_TYPE"], variables["DIALSTATUS"]) == ("callback", "BUSY")
        dial = next(m for m in ami.events("Newexten", Channel=agent, Application="Dial"))
        assert dial["AppData"] == "PJSIP/13700137000@trunk,30"
        applications = [m["Application"] for m in ami.events("Newexten", Channel=agent)]
        assert applications[-2:] == ["Goto", "Hangup"]
        ami.close()


async def test_originate_into_an_extension_that_does_not_exist_is_refused(
    tmp_path: Path,
) -> None:
    async with running(tmp_path) as sim:
        ami = await RawAmi.connect(address(sim))
        answer = await ami.action(
            "Originate", Channel="PJSIP/1001", Context="callback", Exten="12345", Priority="1"
        )
        assert answer.get("Message") == "Extension does not exist."
        assert not ami.events("Newchannel")
        ami.close()
