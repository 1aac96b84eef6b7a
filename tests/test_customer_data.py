"""A customer's data on request (PIPL, issue 20): the export holds everything the database
holds about them (compared row for row), the erasure leaves none of their personal data in
any text or JSON column of any table (the QA feedback, the rule reviews, the scores' quoted
words and the dispositions' notes of their calls included) while the rows and their
verdicts stay, removes their recordings, is audited by id only, and a second erasure is a
clear 409; both admin-only, both also `callcentre customer …`."""

from __future__ import annotations

import concurrent.futures
import io
import json
import wave
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from crm.audit.models import AuditEntry
from crm.callbacks.models import CallbackAttempt, CallbackTask, MadeBy
from crm.calls.models import Call, CallOutcome, Direction
from crm.clock import FixedClock
from crm.complaints.models import Complaint
from crm.customers import service as customers
from crm.customers.privacy import CUSTOMER_ERASE, CUSTOMER_EXPORT
from crm.db import Base, Database
from crm.dispositions.codes import load_codes
from crm.dispositions.models import CallDisposition
from crm.dispositions.service import code_call
from crm.projects.models import Project
from crm.quality import feedback as qa_feedback
from crm.quality.models import CallScore, FeedbackStatus, QaFeedback, ReviewDecision, RuleReview
from crm.quality.reviews import review_rule
from crm.quality.scorecard import (
    EVIDENCE_PARAMS,
    SPOKEN_PARAMS,
    Evidence,
    EvidenceKind,
    RuleResult,
    without_spoken_words,
)
from crm.repairs.models import Repair
from crm.settings import Settings, load_settings
from crm.transcripts.models import Leg, Transcript
from tests.support.api import Api, running_app
from tests.support.records import seed_records
from web.cli import cli

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
NAME, NUMBER, ADDRESS = "王建国", "13800138000", "雁塔区科技路1号"
SAID = "我家墙面开裂了"  # what the customer said on the call (a transcript)
OTHER = "李娜"


def wav(frames: bytes) -> bytes:
    """A finished 8 kHz mono WAV (a file still being written is not handed out)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(frames)
    return buffer.getvalue()


LINKED, UNLINKED = wav(b"\x01\x00" * 800), wav(b"\x02\x00" * 400)


@pytest.fixture
def recordings(tmp_path: Path) -> Path:
    directory = tmp_path / "recordings"
    directory.mkdir()
    return directory


@pytest.fixture
def app_settings(database_url: str, recordings: Path) -> Settings:
    return load_settings(
        database_url=database_url, default_area_code="029", recordings_dir=recordings
    )


async def scene(api: Api, db: Database, recordings: Path) -> dict[str, Any]:
    """seed_records' customer (a project, callbacks, a recorded call with QA feedback, a
    complaint, a repair, a grant), plus a transcript of that call, its QA score quoting their
    words, a reviewer's override, the agent's dispute and its answer naming them, the call's
    disposition noting their number, an unlinked call from their number with its own
    recording, an attempt at a callback noting their words, and another customer."""
    ids = await seed_records(api, db, NOW)
    call_id = ids["call_id"]
    assert isinstance(call_id, int) and isinstance(ids["feedback_id"], int)
    (recordings / "records-1.wav").write_bytes(LINKED)
    (recordings / "unlinked.wav").write_bytes(UNLINKED)
    async with db.session() as session:
        session.add(
            Transcript(
                call_id=ids["call_id"],
                leg=Leg.CUSTOMER,
                words=[{"word": SAID, "start": 0.0, "end": 1.0, "conf": 1.0}],
                text=SAID,
                model="test",
                duration=1.0,
                file="/var/spool/asterisk/monitor/records-1.wav",
            )
        )
        # what the scorer stores: the words it heard, quoted as evidence
        said = Evidence(EvidenceKind.SAID, Leg.CUSTOMER.value, 0.0, 1.0, {"words": SAID})
        hold = Evidence(
            EvidenceKind.SILENCE_AFTER_HOLD, None, 2.0, 40.0, {"seconds": 38.0, "said": NAME}
        )
        session.add(
            CallScore(
                call_id=call_id,
                agent_id=api.ids["agent1"],
                score=8,
                max_score=10,
                points_lost=2,
                rules=[
                    RuleResult("greeting", True, 0, (said,)).as_json(),
                    RuleResult("hold", False, 2, (hold,)).as_json(),
                ],
                rules_version="test",
                rules_digest="test",
                scored_at=NOW,
            )
        )
        await session.flush()
        await review_rule(
            session,
            call_id=call_id,
            rule_id="hold",
            reviewer_id=api.ids["qa"],
            decision=ReviewDecision.OVERRIDDEN,
            passed=True,
            reason=f"{NAME}自己要求等待",
            at=NOW,
        )
        await qa_feedback.dispute(
            session, feedback_id=ids["feedback_id"], reason=f"客户{NUMBER}说{SAID}", at=NOW
        )
        await qa_feedback.answer(
            session,
            feedback_id=ids["feedback_id"],
            reviewer_id=api.ids["qa"],
            text=f"{NAME}住在{ADDRESS}",
            at=NOW,
        )
        await code_call(
            session,
            call_id=call_id,
            agent_id=api.ids["agent1"],
            own_calls_only=True,
            code="consultation",
            note=f"{NAME} {NUMBER}：{SAID}",
            customer_id=None,
            project_id=None,
            codes=load_codes(),
            at=NOW,
        )
        unlinked = Call(
            linkedid="unlinked.1",
            direction=Direction.INBOUND,
            caller=NUMBER,
            customer_number=NUMBER,
            started_at=NOW - timedelta(days=3),
            ended_at=NOW - timedelta(days=3) + timedelta(minutes=2),
            answered_at=NOW - timedelta(days=3),
            outcome=CallOutcome.ANSWERED,
            agent_id=api.ids["agent1"],
            recording="/var/spool/asterisk/monitor/unlinked.wav",
        )
        session.add(unlinked)
        await session.flush()
        praised = await qa_feedback.send(
            session,
            call_id=unlinked.id,
            reviewer_id=api.ids["qa"],
            comment=f"{NAME}（{NUMBER}）报修时应复述地址{ADDRESS}",
            at=NOW,
        )
        await qa_feedback.acknowledge(
            session, feedback_id=praised.id, note=f"已回电{NUMBER}", at=NOW
        )
        session.add(
            CallbackAttempt(
                task_id=ids["task_id"],
                made_by=MadeBy.AGENT,
                started_at=NOW - timedelta(hours=1),
                call_id=unlinked.id,
                notes=f"{NAME}说{SAID}",
                dialed_number=NUMBER,
            )
        )
        other = await customers.create(
            session, name=OTHER, phones=["13900139000"], default_area_code="029"
        )
    return {**ids, "unlinked_id": unlinked.id, "other_id": other.id}


async def rows_of(db: Database, model: Any, *where: Any) -> list[int]:
    async with db.session() as session:
        return sorted(await session.scalars(select(model.id).where(*where)))


async def test_the_export_holds_everything_about_the_customer(
    app_settings: Settings, db: Database, recordings: Path
) -> None:
    async with running_app(app_settings, db, clock=FixedClock(NOW)) as api:
        ids = await scene(api, db, recordings)
        customer_id = ids["customer_id"]
        assert (await api["agent1"].get(f"/api/customers/{customer_id}/export")).status_code == 403
        response = await api["admin"].get(
            f"/api/customers/{customer_id}/export", params={"recordings": "true"}
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/zip"
        archive = zipfile.ZipFile(io.BytesIO(response.content))
        data = json.loads(archive.read("customer.json"))

        assert data["customer"]["name"] == NAME and data["customer"]["address"] == ADDRESS
        assert [p["number"] for p in data["phones"]] == [NUMBER]
        assert [p["id"] for p in data["projects"]] == await rows_of(
            db, Project, Project.customer_id == customer_id
        )
        assert [c["id"] for c in data["calls"]] == sorted([ids["call_id"], ids["unlinked_id"]])
        assert [t["text"] for t in data["transcripts"]] == [SAID]
        tasks = await rows_of(db, CallbackTask, CallbackTask.project_id == ids["project_id"])
        assert tasks and [t["id"] for t in data["callback_tasks"]] == tasks
        assert [a["notes"] for a in data["callback_attempts"]] == [f"{NAME}说{SAID}"]
        assert [c["id"] for c in data["complaints"]] == [ids["complaint_id"]]
        assert [r["id"] for r in data["repairs"]] == [ids["repair_id"]]
        calls = [ids["call_id"], ids["unlinked_id"]]
        feedback = await rows_of(db, QaFeedback, QaFeedback.call_id.in_(calls))
        assert len(feedback) == 2 and [f["id"] for f in data["qa_feedback"]] == feedback
        assert f"客户{NUMBER}说{SAID}" in [f["dispute"] for f in data["qa_feedback"]]
        reviews = await rows_of(db, RuleReview, RuleReview.call_id.in_(calls))
        assert reviews and [r["id"] for r in data["rule_reviews"]] == reviews
        dispositions = await rows_of(db, CallDisposition, CallDisposition.call_id.in_(calls))
        assert len(dispositions) == 1 and [d["id"] for d in data["call_dispositions"]] == (
            dispositions
        )
        assert data["call_dispositions"][0]["note"] == f"{NAME} {NUMBER}：{SAID}"
        (scored,) = data["call_scores"]
        assert scored["rules"][0]["evidence"][0]["params"] == {"words": SAID}
        assert OTHER not in json.dumps(data, ensure_ascii=False)
        recorded = {name: archive.read(name) for name in archive.namelist() if "/" in name}
        assert recorded == {
            f"recordings/call-{ids['call_id']}-recording.wav": LINKED,
            f"recordings/call-{ids['unlinked_id']}-recording.wav": UNLINKED,
        }
        async with db.session() as session:
            audits = list(
                await session.scalars(
                    select(AuditEntry).where(AuditEntry.action == CUSTOMER_EXPORT)
                )
            )
        assert [(a.entity_id, a.user_id) for a in audits] == [(str(customer_id), api.ids["admin"])]
        missing = await api["admin"].get("/api/customers/999999/export")
        assert missing.status_code == 404


async def every_text(db: Database) -> list[tuple[str, str, str]]:
    """(table, column, value) of every text and JSON value in the database."""
    found = []
    async with db.session() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).mappings():
                for column, value in row.items():
                    if isinstance(value, str | dict | list):
                        found.append((table.name, column, json.dumps(value, ensure_ascii=False)))
    return found


async def test_erasure_leaves_no_personal_data_and_is_audited_once(
    app_settings: Settings, db: Database, recordings: Path
) -> None:
    async with running_app(app_settings, db, clock=FixedClock(NOW)) as api:
        ids = await scene(api, db, recordings)
        customer_id = ids["customer_id"]
        path = f"/api/customers/{customer_id}/erase"
        assert (await api["supervisor"].post(path)).status_code == 403
        response = await api["admin"].post(path)
        assert response.status_code == 200, response.text
        assert response.json() | {"customer_id": customer_id} == response.json()
        assert response.json()["recordings"] == 2 and response.json()["transcripts"] == 1
        assert {
            key: response.json()[key]
            for key in ("call_scores", "rule_reviews", "qa_feedback", "call_dispositions")
        } == {"call_scores": 1, "rule_reviews": 1, "qa_feedback": 2, "call_dispositions": 1}

        needles = (NAME, NUMBER, ADDRESS, SAID, "墙面开裂", "水管漏水")
        leaks = [(t, c, v) for t, c, v in await every_text(db) if any(n in v for n in needles)]
        assert leaks == []
        assert sorted(p.name for p in recordings.iterdir()) == []
        async with db.session() as session:
            erased = await customers.get_or_raise(session, customer_id)
            assert erased.name == f"已删除客户 #{customer_id}" and erased.phones == []
            assert erased.do_not_call
            other = await customers.get_or_raise(session, ids["other_id"])
            assert other.name == OTHER and [p.number for p in other.phones] == ["13900139000"]
            calls = list(await session.scalars(select(Call).order_by(Call.id)))
            assert all(c.recording is None and c.customer_number is None for c in calls)
            audits = list(
                await session.scalars(select(AuditEntry).where(AuditEntry.action == CUSTOMER_ERASE))
            )
            # the rows stay, for the reports' counts and the complaints' history
            assert await session.get(Complaint, ids["complaint_id"]) is not None
            assert await session.get(Repair, ids["repair_id"]) is not None
            # the QA history keeps its counts and verdicts, without the words
            feedback = list(await session.scalars(select(QaFeedback).order_by(QaFeedback.id)))
            assert [f.status for f in feedback] == [
                FeedbackStatus.ANSWERED,
                FeedbackStatus.ACKNOWLEDGED,
            ]
            assert {f.comment for f in feedback} == {"（已删除）"}
            assert feedback[0].dispute == feedback[0].answer == "（已删除）"
            assert feedback[1].dispute is None and feedback[1].acknowledgement == "（已删除）"
            (review,) = await session.scalars(select(RuleReview))
            assert (review.passed, review.reason) == (True, "（已删除）")
            (disposition,) = await session.scalars(select(CallDisposition))
            assert (disposition.code, disposition.note) == ("consultation", "（已删除）")
            (kept,) = await session.scalars(select(CallScore))
            assert (kept.score, kept.max_score, kept.points_lost) == (8, 10, 2)
            assert [(r["id"], r["passed"], r["points_lost"]) for r in kept.rules] == [
                ("greeting", True, 0),
                ("hold", False, 2),
            ]
            assert [e["kind"] for r in kept.rules for e in r["evidence"]] == [
                "said",
                "silence_after_hold",
            ]
            assert kept.rules[0]["evidence"][0]["start"] == 0.0
            assert kept.rules[1]["evidence"][0]["params"]["seconds"] == 38.0
        (audit,) = audits
        assert (audit.entity_type, audit.entity_id, audit.user_id) == (
            "customer",
            str(customer_id),
            api.ids["admin"],
        )
        assert audit.detail["phones"] == 1 and audit.detail["calls"] == 2

        again = await api["admin"].post(path)
        assert again.status_code == 409
        assert again.json()["detail"][0]["code"] == "customer_erased"
        assert (await api["admin"].post("/api/customers/999999/erase")).status_code == 404
        async with db.session() as session:
            count = len(
                list(
                    await session.scalars(
                        select(AuditEntry).where(AuditEntry.action == CUSTOMER_ERASE)
                    )
                )
            )
        assert count == 1


def invoke(args: list[str], env: dict[str, str]) -> Result:
    """The command runs its own event loop: in a thread, beside the test's."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(CliRunner().invoke, cli, args, env=env).result()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_commands_export_and_erase(
    app_settings: Settings, db: Database, recordings: Path, tmp_path: Path
) -> None:
    async with running_app(app_settings, db, clock=FixedClock(NOW)) as api:
        ids = await scene(api, db, recordings)
    env = {
        "CALLCENTRE_DATABASE_URL": app_settings.database_url,
        "CALLCENTRE_RECORDINGS_DIR": str(recordings),
    }
    customer_id = str(ids["customer_id"])
    out = tmp_path / "wang.zip"
    result = invoke(["customer", "export", customer_id, "--out", str(out)], env)
    assert result.exit_code == 0, result.output
    data = json.loads(zipfile.ZipFile(out).read("customer.json"))
    assert data["customer"]["name"] == NAME
    assert zipfile.ZipFile(out).namelist() == ["customer.json"]  # no --recordings
    result = invoke(["customer", "erase", customer_id, "--yes"], env)
    assert result.exit_code == 0, result.output
    assert f"customer {customer_id} erased: phones 1, calls 2, recordings 2" in result.output
    result = invoke(["customer", "erase", customer_id, "--yes"], env)
    assert result.exit_code != 0 and "already erased" in result.output
    result = invoke(["customer", "export", "424242"], env)
    assert result.exit_code != 0 and "no customer 424242" in result.output


def test_every_evidence_kind_says_which_of_its_params_quote_the_call() -> None:
    """The erasure empties the quoted words of every kind the scorer sends (a new kind must
    say which of its params are spoken), and any text of a kind it does not know."""
    assert SPOKEN_PARAMS.keys() == EVIDENCE_PARAMS.keys()
    assert all(SPOKEN_PARAMS[kind] <= EVIDENCE_PARAMS[kind] for kind in EvidenceKind)
    stored = [
        {
            "id": "future",
            "passed": False,
            "points_lost": 3,
            "evidence": [
                {"kind": "echo", "leg": "customer", "start": 1.0, "end": 2.0,
                 "params": {"heard": SAID, "times": 2}},
                {"kind": "said", "leg": "agent", "start": 3.0, "end": 4.0,
                 "params": {"words": NAME}},
            ],
        }
    ]  # fmt: skip
    assert without_spoken_words(stored) == [
        {
            "id": "future",
            "passed": False,
            "points_lost": 3,
            "evidence": [
                {"kind": "echo", "leg": "customer", "start": 1.0, "end": 2.0,
                 "params": {"heard": None, "times": 2}},
                {"kind": "said", "leg": "agent", "start": 3.0, "end": 4.0,
                 "params": {"words": None}},
            ],
        }
    ]  # fmt: skip
