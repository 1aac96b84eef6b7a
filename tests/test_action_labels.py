"""The buttons that sit side by side cannot be mistaken for one another, in either language:
"Sign out" (end the session) next to "Log out" (leave the queues) sent agents out of the system
when they meant to stop taking calls (issue 18). No catalogue or browser needed: the labels are
read from the catalogues, and each key is checked to be one the screen really uses."""

from __future__ import annotations

import re
from itertools import combinations
from pathlib import Path

import pytest

from web.catalogues import catalogue

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web"

# The actions one person sees together on one screen, by the file that shows each.
SCREENS = {
    "console": {
        "header.qa": "templates/base.html",
        "header.complaints": "templates/base.html",
        "header.logout": "templates/base.html",
        "state.go_ready": "static/js/state.js",
        "state.pause": "static/js/state.js",
        "state.log_out": "static/js/state.js",
        # The call controls and the dial pad, beside the state buttons (issue 17).
        "controls.hangup": "static/js/call-controls.js",
        "controls.hold": "static/js/call-controls.js",
        "controls.resume": "static/js/call-controls.js",
        "controls.mute": "static/js/call-controls.js",
        "controls.unmute": "static/js/call-controls.js",
        "controls.transfer": "static/js/call-controls.js",
        "controls.complete": "static/js/call-controls.js",
        "controls.cancel": "static/js/call-controls.js",
        "controls.cancel_conference": "static/js/call-controls.js",
        "controls.conference": "static/js/call-controls.js",
        "controls.join": "static/js/call-controls.js",
        "dial.pad_submit": "templates/console.html",
    },
    "wallboard": {
        "header.qa": "templates/base.html",
        "header.complaints": "templates/base.html",
        "header.campaigns": "templates/base.html",
        "header.reports": "templates/base.html",
        "header.logout": "templates/base.html",
        "wallboard.wall.enter": "templates/wallboard.html",
        "wallboard.wall.leave": "static/js/wallboard-actions.js",
        "wallboard.action.listen": "static/js/wallboard-actions.js",
        "wallboard.action.whisper": "static/js/wallboard-actions.js",
        "wallboard.action.barge": "static/js/wallboard-actions.js",
        "wallboard.action.pause": "static/js/wallboard-actions.js",
        "wallboard.action.unpause": "static/js/wallboard-actions.js",
        "wallboard.action.logout": "static/js/wallboard-actions.js",
    },
}
# Words for "stop being somewhere": which place is meant must be said, not left to guess.
LEAVING = {
    "en": re.compile(
        r"\b(?:sign(?:ed)? out|log(?:ged)? ?out|log off|sign off|leave|exit|quit"
        r"|remove(?:d)? from|take out of)\b"
    ),
    "zh-CN": re.compile(r"退出|签出|登出|注销|离开|移出|下线"),
}
FILLER = {"en": {"of", "the", "a", "from", "to"}, "zh-CN": {"的", "从"}}


def parts(lang: str, label: str) -> tuple[bool, frozenset[str]]:
    """(whether the label is a leaving, what it names besides the verb)."""
    text = label.lower()
    leaving = bool(LEAVING[lang].search(text))
    rest = LEAVING[lang].sub(" ", text)
    if lang == "en":
        words = set(re.findall(r"[a-z]+", rest)) - FILLER[lang]
    else:
        words = {rest.strip()} - {""} - FILLER[lang]
    return leaving, frozenset(words)


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
@pytest.mark.parametrize("screen", sorted(SCREENS))
def test_actions_shown_together_cannot_be_confused(screen: str, lang: str) -> None:
    words = catalogue(lang)
    actions = SCREENS[screen]
    for key, source in actions.items():
        text = (WEB / source).read_text(encoding="utf-8")
        # `wallboard.action.${mode}`: the listen, whisper and barge buttons share one line.
        assert key in text or f"{key.rsplit('.', 1)[0]}.${{" in text, (key, source)
    labels = {key: words[key] for key in actions}
    for key, label in labels.items():
        leaving, named = parts(lang, label)
        assert not (leaving and not named), f"{key} {label!r}: leaving what?"
    for (one, first), (other, second) in combinations(labels.items(), 2):
        assert first.lower() != second.lower(), (one, other, first)
        assert parts(lang, first) != parts(lang, second), (one, other, first, second)


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_leaving_the_queues_and_leaving_the_system_name_different_things(lang: str) -> None:
    words = catalogue(lang)
    queues, system = parts(lang, words["state.log_out"]), parts(lang, words["header.logout"])
    assert queues[0] and system[0]  # both say "leave"…
    assert queues[1] and system[1] and not queues[1] & system[1]  # …each says what, apart


def test_the_rule_catches_the_old_labels() -> None:
    assert parts("en", "Sign out") == parts("en", "Log out")
    assert not parts("zh-CN", "签出")[1]
    assert parts("en", "Leave queues") != parts("en", "Sign out of the system")
