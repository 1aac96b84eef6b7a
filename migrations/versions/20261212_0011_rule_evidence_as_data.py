"""rule evidence as kinds and parameters, not English sentences

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-12 09:00:00+00:00

Stored scores held each piece of evidence as an English sentence (`text`); they now hold a
kind and its parameters, which the pages word in the reader's language (issue 17). The
sentences the old scorer wrote are read back into kinds, and a phrase that was not found
loses the window's bounds it carried as a time (there was no moment to hear). Downgrading
writes the sentences again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 500

# The default scorecard's phrase sets as the old scorer labelled them: (rule, label) → (key,
# first_seconds, last_seconds) of the rule's window.
_DEFAULT_SETS: dict[tuple[str, str], tuple[str, float | None, float | None]] = {
    ("greeting", "您好"): ("hello", 10.0, None),
    ("greeting", "company or department (…客服)"): ("company", 10.0, None),
    ("greeting", "own name or staff number"): ("own_name", 10.0, None),
    ("offer_help", "请问有什么可以帮您"): ("offer_help", None, None),
    ("polite_words", "请"): ("please", None, None),
    ("polite_words", "谢谢"): ("thanks", None, None),
    ("polite_words", "对不起/抱歉"): ("sorry", None, None),
    ("closing", "还有其他需要帮助的吗"): ("anything_else", None, 20.0),
    ("closing", "感谢您的来电/再见"): ("goodbye", None, 20.0),
    ("satisfaction_question", "满意"): ("satisfied", None, None),
}
_CHINESE_LABELS = {
    "company or department (…客服)": "公司或部门（…客服）",
    "own name or staff number": "自报姓名或工号",
}


def _not_found(rule_id: str, match: re.Match[str]) -> dict[str, Any]:
    label = match[1]
    key, first, last = _DEFAULT_SETS.get((rule_id, label), (None, None, None))
    return {
        "kind": "not_found",
        "params": {
            "label": _CHINESE_LABELS.get(label, label),
            "set": key,
            "first_seconds": first,
            "last_seconds": last,
        },
        "timed": False,
    }


_SENTENCES: list[tuple[re.Pattern[str], Callable[[str, re.Match[str]], dict[str, Any]]]] = [
    (re.compile(r"^not found: (.*)$", re.S), _not_found),
    (
        re.compile(r"^answered after ([\d.]+) s \(limit ([\d.]+) s\)$"),
        lambda _r, m: {
            "kind": "ring_time",
            "params": {"seconds": float(m[1]), "limit": float(m[2])},
            "timed": False,
        },
    ),
    (
        re.compile(r"^the (agent|customer) hung up first$"),
        lambda _r, m: {"kind": "hung_up_first", "params": {"party": m[1]}, "timed": False},
    ),
    (
        re.compile(r"^silent ([\d.]+) s with no hold announcement before it$"),
        lambda _r, m: {"kind": "silence", "params": {"seconds": float(m[1])}, "timed": True},
    ),
    (
        re.compile(r"^silent ([\d.]+) s after the hold announcement “(.*)”$", re.S),
        lambda _r, m: {
            "kind": "silence_after_hold",
            "params": {"seconds": float(m[1]), "said": m[2]},
            "timed": True,
        },
    ),
]


def evidence_from_sentence(rule_id: str, item: dict[str, Any]) -> dict[str, Any]:
    """An old evidence item ({leg, start, end, text}) as a kind and its parameters."""
    if "kind" in item:
        return item
    text = str(item.get("text", ""))
    for pattern, build in _SENTENCES:
        match = pattern.match(text)
        if match:
            found = build(rule_id, match)
            timed = found.pop("timed")
            return {
                "kind": found["kind"],
                "leg": item.get("leg"),
                "start": item.get("start") if timed else None,
                "end": item.get("end") if timed else None,
                "params": found["params"],
            }
    return {
        "kind": "said",
        "leg": item.get("leg"),
        "start": item.get("start"),
        "end": item.get("end"),
        "params": {"words": text},
    }


def _seconds(value: Any) -> str:
    return f"{float(value):.1f}"


def evidence_as_sentence(item: dict[str, Any]) -> dict[str, Any]:
    """A kind and its parameters as the old scorer's sentence."""
    if "kind" not in item:
        return item
    p = item.get("params") or {}
    kind = item["kind"]
    if kind == "not_found":
        text = f"not found: {p.get('label', '')}"
    elif kind == "ring_time":
        text = f"answered after {_seconds(p['seconds'])} s (limit {float(p['limit']):g} s)"
    elif kind == "hung_up_first":
        text = f"the {p['party']} hung up first"
    elif kind == "silence":
        text = f"silent {_seconds(p['seconds'])} s with no hold announcement before it"
    elif kind == "silence_after_hold":
        text = f"silent {_seconds(p['seconds'])} s after the hold announcement “{p['said']}”"
    else:
        text = str(p.get("words", ""))
    return {"leg": item.get("leg"), "start": item.get("start"), "end": item.get("end"), "text": text}


def _rewrite_scores(convert: Callable[[str, dict[str, Any]], dict[str, Any]]) -> None:
    scores = sa.table("call_scores", sa.column("id", sa.Integer), sa.column("rules", sa.JSON))
    bind = op.get_bind()
    last = 0
    while True:
        rows = bind.execute(
            sa.select(scores.c.id, scores.c.rules)
            .where(scores.c.id > last)
            .order_by(scores.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        for row_id, rules in rows:
            last = row_id
            fresh = [
                {
                    **rule,
                    "evidence": [
                        convert(str(rule.get("id", "")), item) for item in rule.get("evidence", [])
                    ],
                }
                for rule in rules or []
            ]
            if fresh != rules:
                bind.execute(scores.update().where(scores.c.id == row_id).values(rules=fresh))


def upgrade() -> None:
    _rewrite_scores(evidence_from_sentence)


def downgrade() -> None:
    _rewrite_scores(lambda _rule_id, item: evidence_as_sentence(item))
