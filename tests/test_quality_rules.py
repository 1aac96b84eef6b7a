"""The scorecard file: validated once into typed rules, every mistake named by file, rule and
problem; and `callcentre qa score` on a hand-written call."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from crm.quality.rules import (
    DEFAULT_RULES_PATH,
    CallKind,
    PhrasesAbsent,
    PhrasesPresent,
    RuleLeg,
    RulesError,
    load_rules,
    parse_rules,
)

ROOT = Path(__file__).resolve().parents[1]
CALL = ROOT / "tests" / "data" / "qa_call_inbound.json"

VALID = """
version = "test"
[[rules]]
id = "greeting"
kind = "phrases_present"
points = 2
first_seconds = 10
  [[rules.require]]
  label = "hello"
  phrases = ["您好，", "你好"]
"""


def problem(text: str) -> str:
    with pytest.raises(RulesError) as raised:
        parse_rules(text, source="rules.toml")
    return str(raised.value)


def test_rules_become_typed_objects() -> None:
    card = parse_rules(
        VALID
        + """
[[rules]]
id = "no_swearing"
kind = "phrases_absent"
points = 3
leg = "any"
calls = ["callback"]
max_error_ratio = 0
phrases = ["他 妈 的"]
patterns = ['滚+']
"""
    )
    greeting, swearing = card.rules
    assert isinstance(greeting, PhrasesPresent) and isinstance(swearing, PhrasesAbsent)
    assert greeting.require[0].phrases == ("您好", "你好")  # matched without punctuation
    assert (greeting.leg, greeting.window.first_seconds, greeting.at_least) == (
        RuleLeg.AGENT,
        10.0,
        1,
    )
    assert greeting.calls == frozenset(CallKind)
    assert (swearing.leg, swearing.calls) == (RuleLeg.ANY, frozenset({CallKind.CALLBACK}))
    assert swearing.forbidden.phrases == ("他妈的",)
    assert swearing.forbidden.patterns[0].pattern == "滚+"
    assert swearing.tolerance.max_error_ratio == 0 and swearing.tolerance.homophones
    assert card.version == "test" and card.max_points == 5


def test_the_default_file_ships_with_the_package() -> None:
    assert DEFAULT_RULES_PATH.parent.name == "quality"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    # setuptools expands each package-data pattern as a glob under the package's folder.
    patterns = pyproject["tool"]["setuptools"]["package-data"]["crm"]
    shipped = {p.resolve() for pattern in patterns for p in (ROOT / "crm").glob(pattern)}
    assert DEFAULT_RULES_PATH.resolve() in shipped
    assert load_rules().source == str(DEFAULT_RULES_PATH)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[rules]\nid = 'x'", "rules.toml: not valid TOML: "),
        ("version = 'x'\n", "rules.toml: missing field 'rules'"),
        ("rules = []\n", "rules.toml: no [[rules]]"),
        (
            "[[rules]]\nid = 'Greeting!'\nkind = 'ring_time'\npoints = 1\nmax_seconds = 15\n",
            "rules.toml: rules entry 1: 'id' must be lower-case letters, digits and _ "
            "(got 'Greeting!')",
        ),
        (
            "[[rules]]\nid = 'ring'\nkind = 'ring_tme'\npoints = 1\n",
            "rules.toml: rule 'ring': unknown kind 'ring_tme' (did you mean 'ring_time'?); known "
            "kinds: hangup_order, interruption, long_silence, phrases_absent, phrases_present, "
            "ring_time",
        ),
        (
            "[[rules]]\nid = 'ring'\nkind = 'ring_time'\nmax_seconds = 15\n",
            "rules.toml: rule 'ring': missing field 'points'",
        ),
        (
            "[[rules]]\nid = 'ring'\nkind = 'ring_time'\npoints = 'two'\nmax_seconds = 15\n",
            "rules.toml: rule 'ring': 'points' must be a whole number, not str 'two'",
        ),
        (
            "[[rules]]\nid = 'ring'\nkind = 'ring_time'\npoints = 1\nmax_seconds = -3\n",
            "rules.toml: rule 'ring': 'max_seconds' must be a number of seconds above 0, not -3",
        ),
        (
            "[[rules]]\nid = 'ring'\nkind = 'ring_time'\npoints = 1\nmax_second = 15\n",
            "rules.toml: rule 'ring': missing field 'max_seconds'",
        ),
        (
            "[[rules]]\nid = 'ring'\nkind = 'ring_time'\npoints = 1\nmax_seconds = 15\n"
            "max_second = 15\n",
            "rules.toml: rule 'ring': unknown field 'max_second' in the rule (did you mean "
            "'max_seconds'?)",
        ),
        (
            "[[rules]]\nid = 'ring'\nkind = 'ring_time'\npoints = 1\nmax_seconds = 15\n"
            "calls = ['outbound']\n",
            "rules.toml: rule 'ring': 'calls' may hold inbound and callback, not ['outbound']",
        ),
        (
            "[[rules]]\nid = 'bad'\nkind = 'phrases_absent'\npoints = 3\n"
            "patterns = ['(unclosed']\n",
            "rules.toml: rule 'bad': the rule: pattern '(unclosed' is not a regular expression "
            "(missing ), unterminated subpattern at position 0)",
        ),
        (
            "[[rules]]\nid = 'bad'\nkind = 'phrases_absent'\npoints = 3\nphrases = ['x']\n"
            "max_error_ratio = 1.5\n",
            "rules.toml: rule 'bad': 'max_error_ratio' must be at least 0 and below 1 (a share of "
            "the phrase's characters), not 1.5",
        ),
        (
            "[[rules]]\nid = 'bad'\nkind = 'phrases_absent'\npoints = 3\nphrases = ['，。']\n",
            "rules.toml: rule 'bad': 'phrases': phrase '，。' has no letters or digits",
        ),
        (
            "[[rules]]\nid = 'bad'\nkind = 'phrases_absent'\npoints = 3\n",
            "rules.toml: rule 'bad': the rule has neither phrases nor patterns",
        ),
        (
            "[[rules]]\nid = 'bad'\nkind = 'phrases_present'\npoints = 1\nfirst_seconds = 5\n"
            "last_seconds = 5\n[[rules.require]]\nphrases = ['x']\n",
            "rules.toml: rule 'bad': give first_seconds or last_seconds, not both",
        ),
        (
            "[[rules]]\nid = 'bad'\nkind = 'phrases_present'\npoints = 1\nat_least = 3\n"
            "[[rules.require]]\nphrases = ['x']\n",
            "rules.toml: rule 'bad': at_least is 3 but only 1 phrase sets are required",
        ),
        (
            "[[rules]]\nid = 'bad'\nkind = 'phrases_present'\npoints = 1\n"
            "[[rules.require]]\nphrase = ['x']\n",
            "rules.toml: rule 'bad': unknown field 'phrase' in require[1] (did you mean "
            "'phrases'?)",
        ),
        (
            "[[rules]]\nid = 'bad'\nkind = 'hangup_order'\npoints = 1\nexpected = 'any'\n",
            "rules.toml: rule 'bad': 'expected' must be 'agent' or 'customer'",
        ),
        (
            "[[rules]]\nid = 'bad'\nkind = 'interruption'\npoints = 1\nleg = 'nobody'\n",
            "rules.toml: rule 'bad': unknown field 'leg' in the rule",
        ),
        (
            "[matching]\nhomophones = 'yes'\n[[rules]]\nid = 'r'\nkind = 'ring_time'\npoints = 1\n"
            "max_seconds = 1\n",
            "rules.toml: 'homophones' must be true or false, not str 'yes'",
        ),
        (
            "[[rules]]\nid = 'ring'\nkind = 'ring_time'\npoints = 1\nmax_seconds = 15\n" * 2,
            "rules.toml: rule 'ring': the id is used twice",
        ),
        (
            VALID.replace('label = "hello"', 'key = "Hello!"'),
            "rules.toml: rule 'greeting': require[1]: 'key' must be lower-case letters, digits "
            "and _ (got 'Hello!')",
        ),
        (
            VALID.replace('label = "hello"', 'key = "hello"')
            + '  [[rules.require]]\n  key = "hello"\n  phrases = ["嗨"]\n',
            "rules.toml: rule 'greeting': two [[rules.require]] tables have the same key",
        ),
    ],
)
def test_mistakes_are_named_by_file_rule_and_problem(text: str, expected: str) -> None:
    assert problem(text).startswith(expected)


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match=r"nowhere\.toml: cannot read the file"):
        load_rules(tmp_path / "nowhere.toml")
    latin = tmp_path / "latin.toml"
    latin.write_bytes("version = 'caf\xe9'".encode("latin-1"))
    with pytest.raises(RulesError, match=r"latin\.toml: not UTF-8 text"):
        load_rules(latin)


def qa(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "web.cli", "qa", "score", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
        env=os.environ.copy(),
    )


def test_cli_scores_a_call_file() -> None:
    result = qa(str(CALL))
    assert result.returncode == 0, result.stderr
    scored = json.loads(result.stdout)
    assert (scored["score"], scored["max"]) == (14, 14)
    assert [r["id"] for r in scored["rules"]] == [r.id for r in load_rules().rules]
    for item in scored["rules"]:
        assert set(item) == {"id", "passed", "points_lost", "evidence"}
        for evidence in item["evidence"]:
            assert set(evidence) == {"kind", "leg", "start", "end", "params"}
    greeting = next(r for r in scored["rules"] if r["id"] == "greeting")
    assert greeting["evidence"][0] == {
        "kind": "said",
        "leg": "agent",
        "start": 0.5,
        "end": 0.9,
        "params": {"words": "您 好"},
    }
    assert scored["rules"][-1] == {
        "id": "satisfaction_question",
        "passed": None,
        "points_lost": 0,
        "evidence": [],
    }


def test_cli_uses_the_rules_file_given(tmp_path: Path) -> None:
    rules = tmp_path / "strict.toml"
    rules.write_text(VALID.replace("first_seconds = 10", "first_seconds = 0.6"))
    scored = json.loads(qa(str(CALL), "--rules", str(rules)).stdout)
    assert scored == {
        "score": 0,
        "max": 2,
        "rules": [
            {
                "id": "greeting",
                "passed": False,
                "points_lost": 2,
                "evidence": [
                    {
                        "kind": "not_found",
                        "leg": "agent",
                        "start": None,
                        "end": None,
                        "params": {
                            "label": "hello",
                            "set": None,
                            "first_seconds": 0.6,
                            "last_seconds": None,
                        },
                    }
                ],
            }
        ],
    }


def test_cli_refuses_a_broken_rules_file_clearly(tmp_path: Path) -> None:
    rules = tmp_path / "broken.toml"
    rules.write_text(VALID.replace("phrases = ", "patterns = ['[unclosed']\nphrases = "))
    result = qa(str(CALL), "--rules", str(rules))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith(
        f"Error: {rules}: rule 'greeting': require[1]: pattern "
        "'[unclosed' is not a regular expression"
    )
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ("not json", "Expecting value"),
        (
            '{"call": {"kind": "walk-in"}, "words": []}',
            "call.kind must be one of inbound, callback, not 'walk-in'",
        ),
        (
            '{"words": [{"leg": "agent", "word": "好", "start": 2, "end": 1}]}',
            "words[0]: end (1.0) is before start (2.0)",
        ),
        (
            '{"words": [{"leg": "boss", "word": "好", "start": 1, "end": 2}]}',
            "words[0].leg must be one of agent, customer, not 'boss'",
        ),
    ],
)
def test_cli_refuses_a_malformed_call_file(tmp_path: Path, document: str, expected: str) -> None:
    path = tmp_path / "call.json"
    path.write_text(document)
    result = qa(str(path))
    assert result.returncode == 1 and expected in result.stderr
    assert result.stderr.startswith(f"Error: {path}: ")
