"""Rule evidence is data the page words, never the scorer's prose (issue 17): every kind the
scorer sends has its parameters and a message in both catalogues; the Chinese messages hold no
English; only evidence of a moment has a time, so a phrase nobody said never shows one; and
the default scorecard's phrase sets are named in both languages."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from crm.quality.rules import CallKind, PhrasesPresent, load_rules
from crm.quality.scorecard import (
    EVIDENCE_PARAMS,
    TIMED_KINDS,
    EvidenceKind,
    ScoredCallFacts,
    SpokenWord,
    score,
)
from crm.transcripts.models import Leg
from web.catalogues import catalogue

ROOT = Path(__file__).resolve().parents[1]
EVIDENCE_JS = (ROOT / "web" / "static" / "js" / "qa-evidence.js").read_text(encoding="utf-8")
CARD = load_rules()
# Words the default scorecard listens for, and some it does not: calls made of them pass and
# fail every rule in turn.
VOCABULARY = [
    "您好", "这里", "是", "客服", "我是", "小王", "请问", "有什么", "可以", "帮", "您", "请",
    "稍等", "谢谢", "对不起", "我不知道", "不归我管", "还有", "其他", "需要", "帮助", "的", "吗",
    "感谢", "您的", "来电", "再见", "满意", "嗯", "好的", "墙面", "裂", "漏水",
]  # fmt: skip
# A placeholder such as {label}, and the Latin letters of an English word.
PLACEHOLDER = re.compile(r"\{\w+\}")
LATIN = re.compile(r"[A-Za-z]{2,}")


def spoken(leg: Leg) -> st.SearchStrategy[list[SpokenWord]]:
    word = st.tuples(
        st.sampled_from(VOCABULARY),
        st.floats(0, 120, allow_nan=False),
        st.floats(0.1, 2, allow_nan=False),
    )
    return st.lists(word, max_size=25).map(
        lambda words: [SpokenWord(leg, w, s, s + d) for w, s, d in words]
    )


facts = st.builds(
    ScoredCallFacts,
    kind=st.sampled_from(list(CallKind)),
    ring_seconds=st.none() | st.floats(0, 60, allow_nan=False),
    hung_up_by=st.none() | st.sampled_from(list(Leg)),
)


@settings(max_examples=300, deadline=None)
@given(agent=spoken(Leg.AGENT), customer=spoken(Leg.CUSTOMER), call=facts)
def test_every_piece_of_evidence_is_a_kind_with_its_parameters(
    agent: list[SpokenWord], customer: list[SpokenWord], call: ScoredCallFacts
) -> None:
    result = score(CARD, call, agent + customer)
    for rule in result.rules:
        for item in rule.evidence:
            assert set(item.params) == EVIDENCE_PARAMS[item.kind], (rule.id, item)
            if item.kind in TIMED_KINDS:
                assert item.start is not None and item.end is not None
                assert item.start <= item.end
            else:  # a fact of the PBX, or a phrase nobody said: no moment to hear
                assert (item.start, item.end) == (None, None), (rule.id, item)
            stored = item.as_json()
            assert set(stored) == {"kind", "leg", "start", "end", "params"}
            assert "text" not in stored


def test_the_page_knows_every_kind_the_scorer_sends() -> None:
    [listed] = re.findall(r"EVIDENCE_KINDS = \[([^\]]*)\]", EVIDENCE_JS)
    assert re.findall(r'"(\w+)"', listed) == [kind.value for kind in EvidenceKind]
    for kind in EvidenceKind:
        assert f'case "{kind.value}"' in EVIDENCE_JS, kind
    assert set(EVIDENCE_PARAMS) == set(EvidenceKind)


def test_every_evidence_message_reads_in_both_languages_and_the_chinese_has_no_english() -> None:
    zh, en = catalogue("zh-CN"), catalogue("en")
    used = set(re.findall(r'"(qa\.evidence\.\w+)"', EVIDENCE_JS))
    assert len(used) >= 8
    for key in sorted(used):
        assert key in zh and key in en, key
        assert not LATIN.search(PLACEHOLDER.sub("", zh[key])), (key, zh[key])


def test_the_default_scorecards_phrase_sets_are_named_in_both_languages() -> None:
    zh, en = catalogue("zh-CN"), catalogue("en")
    for rule in CARD.rules:
        if not isinstance(rule, PhrasesPresent):
            continue
        for phrase_set in rule.require:
            assert phrase_set.key, (rule.id, phrase_set.label)
            key = f"qa.phrase.{rule.id}.{phrase_set.key}"
            assert key in zh and key in en, key
            assert not LATIN.search(zh[key]), zh[key]
            # The file's own label is what a page without the catalogue's words shows.
            assert not LATIN.search(phrase_set.label), phrase_set.label
