"""The automatic QA scorecard on hand-written transcripts shaped like ASR output (words split
by spaces, punctuation lost or mixed, near misses): every default rule passing, failing and
not checkable."""

from __future__ import annotations

from dataclasses import replace

import pytest

from crm.quality.matching import Tolerance, find, normalise
from crm.quality.rules import CallKind, Scorecard, load_rules
from crm.quality.scorecard import (
    Evidence,
    EvidenceKind,
    RuleResult,
    ScoredCallFacts,
    ScoreResult,
    SpokenWord,
    score,
)
from crm.transcripts.models import Leg

AGENT, CUSTOMER = Leg.AGENT, Leg.CUSTOMER
SECONDS_PER_CHARACTER = 0.2


def said(leg: Leg, start: float, text: str) -> list[SpokenWord]:
    """Words as a recogniser gives them: split on spaces, one after another."""
    words, at = [], start
    for token in text.split():
        end = at + SECONDS_PER_CHARACTER * len(token)
        words.append(SpokenWord(leg, token, round(at, 3), round(end, 3)))
        at = end
    return words


# A model inbound call (SPEC.md's etiquette), in parts the tests replace.
GOOD = {
    "greeting": said(AGENT, 0.5, "您 好 这里 是 装修 公司 客服 中心 我 是 小王"),
    "offer": said(AGENT, 4.0, "请问 有 什么 可以 帮 您"),
    "request": said(CUSTOMER, 6.5, "我家 卫生间 漏水 了 麻烦 你们 来 看看"),
    "hold": said(AGENT, 11.0, "好的 请 稍等 我 帮 您 查 一下"),
    "answer": said(AGENT, 50.0, "谢谢 您 的 耐心 等待 明天 上午 安排 师傅 上门"),
    "thanks": said(CUSTOMER, 55.0, "好的 谢谢"),
    "closing_question": said(AGENT, 57.0, "请问 还有 其他 需要 帮助 的 吗"),
    "no": said(CUSTOMER, 60.5, "没有 了"),
    "goodbye": said(AGENT, 61.5, "感谢 您的 来电 再见"),
}
INBOUND = ScoredCallFacts(kind=CallKind.INBOUND, ring_seconds=6.0, hung_up_by=CUSTOMER)
CALLBACK = ScoredCallFacts(kind=CallKind.CALLBACK, ring_seconds=None, hung_up_by=CUSTOMER)


@pytest.fixture(scope="module")
def card() -> Scorecard:
    return load_rules()


def call(**parts: list[SpokenWord]) -> list[SpokenWord]:
    return [word for part in {**GOOD, **parts}.values() for word in part]


def rule(result: ScoreResult, rule_id: str) -> RuleResult:
    return next(r for r in result.rules if r.id == rule_id)


def check(
    card: Scorecard, rule_id: str, words: list[SpokenWord], facts: ScoredCallFacts = INBOUND
) -> RuleResult:
    return rule(score(card, facts, words), rule_id)


def note(item: Evidence) -> str:
    """A piece of evidence, short, for comparing: its kind and parameters (the scorer writes
    no prose; the page words them)."""
    p = item.params
    return {
        EvidenceKind.SAID: lambda: str(p["words"]),
        EvidenceKind.NOT_FOUND: lambda: f"not found: {p['set']}",
        EvidenceKind.RING_TIME: lambda: f"rang {p['seconds']} of {p['limit']}",
        EvidenceKind.HUNG_UP_FIRST: lambda: f"{p['party']} first",
        EvidenceKind.SILENCE: lambda: f"silent {p['seconds']}",
        EvidenceKind.SILENCE_AFTER_HOLD: lambda: f"silent {p['seconds']} after {p['said']}",
    }[item.kind]()


def texts(result: RuleResult) -> list[str]:
    return [note(item) for item in result.evidence]


def test_the_default_scorecard_is_the_one_in_the_spec(card: Scorecard) -> None:
    assert [(r.id, r.points) for r in card.rules] == [
        ("answer_within_3_rings", 1),
        ("greeting", 2),
        ("offer_help", 1),
        ("polite_words", 1),
        ("forbidden_phrases", 3),
        ("long_hold", 2),
        ("interruption", 1),
        ("closing", 2),
        ("customer_hangs_up_first", 1),
        ("satisfaction_question", 2),
    ]
    assert card.version == "default-2026.11" and len(card.digest) == 16


def test_a_model_call_keeps_every_point(card: Scorecard) -> None:
    inbound = score(card, INBOUND, call())
    assert (inbound.score, inbound.max) == (14, 14)  # 16 less the callback-only question
    assert [r.passed for r in inbound.rules] == [True] * 9 + [None]

    satisfaction = said(AGENT, 20.0, "请问 您 对 施工 质量 满意 吗")
    callback = score(card, CALLBACK, call(request=satisfaction, offer=[]))
    # Callbacks: no ring time known, no offer-help rule; the satisfaction question counts.
    assert [r.id for r in callback.rules if r.passed is None] == [
        "answer_within_3_rings",
        "offer_help",
    ]
    assert (callback.score, callback.max) == (14, 14)


def test_points_lost_add_up(card: Scorecard) -> None:
    result = score(
        card,
        replace(INBOUND, ring_seconds=20.0, hung_up_by=AGENT),
        call(goodbye=said(AGENT, 61.5, "行 了 我 不 知道 挂 了")),
    )
    lost = {r.id: r.points_lost for r in result.rules if r.points_lost}
    assert lost == {
        "answer_within_3_rings": 1,
        "forbidden_phrases": 3,
        "closing": 2,
        "customer_hangs_up_first": 1,
    }
    assert (result.score, result.max) == (7, 14)
    assert result.as_json()["rules"][4] == {
        "id": "forbidden_phrases",
        "passed": False,
        "points_lost": 3,
        "evidence": [
            {
                "kind": "said",
                "leg": "agent",
                "start": 61.9,
                "end": 62.7,
                "params": {"words": "我 不 知道"},
            }
        ],
    }


# answered within 3 rings: the PBX's ring time ------------------------------------------------


@pytest.mark.parametrize(
    ("ring", "passed"), [(6.0, True), (15.0, True), (15.5, False), (None, None)]
)
def test_answer_within_3_rings(card: Scorecard, ring: float | None, passed: bool | None) -> None:
    result = check(card, "answer_within_3_rings", call(), replace(INBOUND, ring_seconds=ring))
    assert (result.passed, result.points_lost) == (passed, 1 if passed is False else 0)
    if ring is not None:
        assert texts(result) == [f"rang {ring} of 15.0"]
        assert result.evidence[0].start is None  # a PBX fact, not a moment of the recording


# greeting: 您好 + …客服 + own name, agent, first 10 s --------------------------------------


@pytest.mark.parametrize(
    "greeting",
    [
        "您 好 这里 是 装修 公司 客服 中心 我 是 小王",
        "您好 ， 这里 是 客服 ， 我是 小王 。",
        "你 好 欢迎 致电 客服 部 工号 一 零 二 三",
        "您好，星辰装修客服，3号为您服务",
        "您 好 我 是 客服 小 李",
    ],
)
def test_greeting_passes_as_asr_writes_it(card: Scorecard, greeting: str) -> None:
    result = check(card, "greeting", call(greeting=said(AGENT, 0.5, greeting)))
    assert result.passed is True, texts(result)
    assert len(result.evidence) == 3 and all(e.leg == "agent" for e in result.evidence)


def test_greeting_evidence_points_at_the_words(card: Scorecard) -> None:
    result = check(card, "greeting", call())
    assert [(e.start, e.end, note(e)) for e in result.evidence] == [
        (0.5, 0.9, "您 好"),
        (2.3, 2.7, "客服"),
        (3.1, 3.9, "我 是 小王"),
    ]


@pytest.mark.parametrize(
    ("greeting", "missing"),
    [
        ("您 好 这里 是 装修 公司 客服 中心", "own_name"),
        ("喂 这里 是 客服 我 是 小王", "hello"),
        ("您 好 我 是 小王", "company"),
    ],
)
def test_greeting_fails_without_each_part(card: Scorecard, greeting: str, missing: str) -> None:
    result = check(card, "greeting", call(greeting=said(AGENT, 0.5, greeting)))
    assert (result.passed, result.points_lost) == (False, 2)
    assert f"not found: {missing}" in texts(result)


def test_greeting_must_come_in_the_first_10_seconds(card: Scorecard) -> None:
    late = said(AGENT, 9.0, "您 好 这里 是 装修 公司 客服 中心 我 是 小王")
    result = check(card, "greeting", call(greeting=late, offer=[]))
    assert result.passed is False  # 您好 fits, the rest comes after 10 s
    assert texts(result) == ["您 好", "not found: company", "not found: own_name"]
    missing = result.evidence[1]
    assert (missing.leg, missing.start, missing.end) == ("agent", None, None)  # no moment
    assert missing.params == {
        "label": "公司或部门（…客服）",
        "set": "company",
        "first_seconds": 10.0,
        "last_seconds": None,
    }


def test_phrase_rules_need_the_agent_to_have_said_something(card: Scorecard) -> None:
    customer_only = [w for w in call() if w.leg is CUSTOMER]
    result = score(card, INBOUND, customer_only)
    for rule_id in ("greeting", "offer_help", "polite_words", "forbidden_phrases", "closing"):
        assert rule(result, rule_id) == RuleResult(rule_id, None, 0)
    assert result.max == 2  # only the PBX facts could be checked


# offers help --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offer", "passed"),
    [
        ("请问 有 什么 可以 帮 您", True),
        ("请问有什么可以帮您？", True),
        ("请问 有 什么 能 帮 您", True),  # a close variant: two characters off
        ("请问 有 什么 可以 帮 你", True),  # 你 for 您
        ("什么 事 啊", False),
        ("", False),
    ],
)
def test_offer_help(card: Scorecard, offer: str, passed: bool) -> None:
    result = check(card, "offer_help", call(offer=said(AGENT, 4.0, offer)))
    assert result.passed is passed


def test_offer_help_is_not_asked_of_callbacks(card: Scorecard) -> None:
    assert check(card, "offer_help", call(offer=[]), CALLBACK).passed is None


# polite words: two of 请 / 谢谢 / 对不起 ----------------------------------------------------


@pytest.mark.parametrize(
    ("hold", "answer", "passed"),
    [
        ("请 稍等", "谢谢 您", True),
        ("稍等", "不好意思 让 您 久等 了 谢谢", True),
        ("请 稍等", "明天 安排 师傅", False),
        ("轻 轻 放下", "明天 安排 师傅", False),  # no homophones for a single character
    ],
)
def test_polite_words(card: Scorecard, hold: str, answer: str, passed: bool) -> None:
    parts = {
        "hold": said(AGENT, 11.0, hold),
        "answer": said(AGENT, 50.0, answer),
        "offer": said(AGENT, 4.0, "有 什么 可以 帮 您"),
        "closing_question": said(AGENT, 57.0, "还有 其他 需要 帮助 的 吗"),
        "goodbye": said(AGENT, 61.5, "再见"),
    }
    result = check(card, "polite_words", call(**parts))
    assert result.passed is passed
    if not passed:
        assert "not found: sorry" in texts(result)


# forbidden phrases --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "caught"),
    [
        ("这个 我 不 知道", "我 不 知道"),
        ("这个 我不知道 。", "我不知道"),
        ("那 不 归 我 管 啊", "不 归 我 管"),
        ("你 听 不 懂 吗 ？", "你 听 不 懂 吗"),
        ("你听不懂吗?", "你听不懂吗?"),  # evidence quotes the words as recognised
        ("我 不 知 到", "我 不 知 到"),  # mis-heard as a homophone: still caught
        ("这 不 可能", "不 可能"),
        ("他 妈 的 烦 死 了", "他 妈 的"),
        ("你 有 病 吧", "你 有 病"),
    ],
)
def test_forbidden_phrases_are_caught(card: Scorecard, line: str, caught: str) -> None:
    result = check(card, "forbidden_phrases", call(answer=said(AGENT, 50.0, line)))
    assert (result.passed, result.points_lost) == (False, 3)
    assert texts(result) == [caught]


@pytest.mark.parametrize(
    "line", ["我 知道 了", "我 能 帮 您 安排", "我 会 尽快 处理", "可能 要 明天"]
)
def test_close_but_harmless_words_are_not_forbidden(card: Scorecard, line: str) -> None:
    assert check(card, "forbidden_phrases", call(answer=said(AGENT, 50.0, line))).passed


def test_only_the_agent_is_held_to_the_forbidden_list(card: Scorecard) -> None:
    angry = said(CUSTOMER, 6.5, "你们 他妈的 什么 服务 我 不 知道 找 谁")
    assert check(card, "forbidden_phrases", call(request=angry)).passed is True


def test_every_forbidden_phrase_said_is_evidence(card: Scorecard) -> None:
    result = check(
        card,
        "forbidden_phrases",
        call(offer=said(AGENT, 4.0, "不 归 我 管"), answer=said(AGENT, 50.0, "我 不 知道 闭嘴")),
    )
    assert [(e.start, note(e)) for e in result.evidence] == [
        (4.0, "不 归 我 管"),
        (50.0, "我 不 知道"),
        (50.8, "闭嘴"),
    ]


# long hold: > 30 s of silence without 请稍等 before it --------------------------------------


def test_a_long_announced_hold_is_fine(card: Scorecard) -> None:
    result = check(card, "long_hold", call())
    assert result.passed is True
    assert texts(result) == ["silent 36.8 after 请 稍等"]


def test_a_long_silence_without_an_announcement_loses_points(card: Scorecard) -> None:
    result = check(card, "long_hold", call(hold=said(AGENT, 11.0, "好的 我 查 一下")))
    assert (result.passed, result.points_lost) == (False, 2)
    assert [(e.leg, e.start, e.end, note(e)) for e in result.evidence] == [
        (None, 12.2, 50.0, "silent 37.8")
    ]


def test_an_announcement_long_before_the_silence_does_not_count(card: Scorecard) -> None:
    words = (
        said(AGENT, 11.0, "请 稍等")
        + said(CUSTOMER, 27.0, "好的 那 我 等 着")
        + said(AGENT, 60.0, "让 您 久等 了")
    )
    result = check(card, "long_hold", words)
    assert result.passed is False  # 请稍等 ended 16.6 s before the silence (28.2 … 60.0)
    assert texts(result) == ["silent 31.8"]


def test_short_pauses_are_not_holds(card: Scorecard) -> None:
    quick = said(AGENT, 30.0, "谢谢 您 的 耐心 等待")
    result = check(
        card,
        "long_hold",
        call(hold=said(AGENT, 11.0, "好的"), answer=quick, thanks=said(CUSTOMER, 45.0, "好的")),
    )
    assert (result.passed, result.evidence) == (True, ())


def test_silence_needs_both_legs_transcribed(card: Scorecard) -> None:
    agent_only = [w for w in call() if w.leg is AGENT]
    assert check(card, "long_hold", agent_only) == RuleResult("long_hold", None, 0)


# interruption: the agent talking over the customer -----------------------------------------


def test_talking_over_the_customer_is_an_interruption(card: Scorecard) -> None:
    over = said(AGENT, 7.0, "好的 好的 我 知道 了")  # the customer speaks 6.5 … 9.5
    result = check(card, "interruption", call(hold=over + said(AGENT, 11.0, "请 稍等")))
    assert (result.passed, result.points_lost) == (False, 1)
    assert [(e.leg, e.start, note(e)) for e in result.evidence] == [
        ("agent", 7.0, "好的 好的 我 知道 了")
    ]


def test_backchannels_and_waiting_for_the_end_are_not_interruptions(card: Scorecard) -> None:
    backchannel = said(AGENT, 7.5, "嗯") + said(AGENT, 8.5, "好的")
    result = check(card, "interruption", call(hold=backchannel + GOOD["hold"]))
    assert (result.passed, result.evidence) == (True, ())
    brief = said(AGENT, 9.3, "好的 请 稍等")  # starts 0.2 s before the customer ends
    assert check(card, "interruption", call(hold=brief)).passed is True


def test_interruption_needs_both_legs(card: Scorecard) -> None:
    agent_only = [w for w in call() if w.leg is AGENT]
    assert check(card, "interruption", agent_only).passed is None


# closing: 还有其他需要帮助的吗 + 感谢您的来电/再见, last 20 s --------------------------------


@pytest.mark.parametrize(
    ("question", "goodbye", "passed"),
    [
        ("请问 还有 其他 需要 帮助 的 吗", "感谢 您的 来电 再见", True),
        ("还有 其它 需要 帮助 的 吗 ？", "再 见", True),  # 其它 for 其他
        ("还有 什么 需要 帮助 的 吗", "在 见", True),  # 在见: a homophone of 再见
        ("请问 还有 其他 需要 帮助 的 吗", "好 的 拜拜", False),
        ("", "感谢 您的 来电 再见", False),
    ],
)
def test_closing(card: Scorecard, question: str, goodbye: str, passed: bool) -> None:
    parts = call(closing_question=said(AGENT, 57.0, question), goodbye=said(AGENT, 61.5, goodbye))
    assert check(card, "closing", parts).passed is passed


def test_closing_counts_only_the_last_20_seconds(card: Scorecard) -> None:
    early = said(AGENT, 30.0, "还有 其他 需要 帮助 的 吗")
    result = check(card, "closing", call(closing_question=early))
    assert result.passed is False
    assert texts(result)[-1] == "not found: anything_else"
    assert result.evidence[-1].start is None  # nothing said: no moment to point at
    assert result.evidence[-1].params["last_seconds"] == 20.0


# who hangs up first ------------------------------------------------------------------------


@pytest.mark.parametrize(("who", "passed"), [(CUSTOMER, True), (AGENT, False), (None, None)])
def test_customer_hangs_up_first(card: Scorecard, who: Leg | None, passed: bool | None) -> None:
    result = check(card, "customer_hangs_up_first", call(), replace(INBOUND, hung_up_by=who))
    assert result.passed is passed
    if who is not None:
        assert texts(result) == [f"{who.value} first"]


# callbacks only: the satisfaction question -------------------------------------------------


@pytest.mark.parametrize(
    ("question", "passed"),
    [
        ("请问 您 对 施工 质量 满意 吗", True),
        ("您 对 我们 的 服务 满 不 满 意", True),
        ("请问 施工 进度 怎么样", False),
    ],
)
def test_satisfaction_question_on_callbacks(card: Scorecard, question: str, passed: bool) -> None:
    result = check(card, "satisfaction_question", call(offer=said(AGENT, 4.0, question)), CALLBACK)
    assert (result.passed, result.points_lost) == (passed, 0 if passed else 2)


def test_satisfaction_question_is_not_asked_of_inbound_calls(card: Scorecard) -> None:
    result = check(card, "satisfaction_question", call())
    assert result == RuleResult("satisfaction_question", None, 0)


# matching ASR text -------------------------------------------------------------------------


def test_spaces_and_punctuation_of_both_widths_are_ignored() -> None:
    assert normalise("您 好，这里是客服！ (Hi) ＡＢＣ １２３。") == "您好这里是客服hiabc123"
    assert find(normalise("您好，这里是客服"), normalise("您 好 这里 是 客服"), Tolerance())


def test_near_matches_allow_a_share_of_the_characters() -> None:
    exact = Tolerance(max_error_ratio=0.0, homophones=False)
    loose = Tolerance(max_error_ratio=0.25, homophones=False)
    assert find("请问有什么可以帮您", "请问有什么能帮您", loose)[0].edits == 2
    assert not find("请问有什么可以帮您", "请问有什么能帮您", exact)
    assert not find("我不知道", "我知道了", Tolerance(0.0, homophones=True))
    assert find("再见", "在见", Tolerance(0.0, homophones=True))
    assert not find("再见", "在见", exact)
    matches = find("我不知道", "我不知道吧我不知道", exact)
    assert [(m.start, m.end) for m in matches] == [(0, 4), (5, 9)]
