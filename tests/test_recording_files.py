"""Recordings when the PBX is elsewhere: the PBX's paths mapped to the server's directory
(dated folders kept, nothing outside it ever read), and files fetched from the PBX's monitor
directory served over HTTP with basic auth, by the transcription worker and the QA player
alike, atomically, with clear errors that never carry the credentials."""

from __future__ import annotations

import base64
import logging
import re
import threading
import time
import wave
from array import array
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from crm.calls.models import Call, CallOutcome, Direction, HungUpBy
from crm.clock import FixedClock, SystemClock
from crm.db import Database
from crm.settings import ConfigurationError, Settings, load_settings
from crm.transcripts.flows import on_call_ended
from crm.transcripts.models import JobStatus, TranscriptionJob
from crm.transcripts.service import get_job
from telephony.recordings.errors import RecordingFetchError, RecordingNotFound, RecordingRefused
from telephony.recordings.fetch import RecordingFetcher
from telephony.recordings.files import RecordingFiles
from telephony.recordings.mixing import mix
from telephony.recordings.paths import recording_subpath
from telephony.recordings.wav_header import wav_unfinished
from telephony.speech.recognizer import Transcript as Heard
from telephony.speech.recognizer import Word
from telephony.speech.worker import run_transcription_worker
from tests.support.api import running_app
from tests.support.qa_calls import tone

MONITOR = "/var/spool/asterisk/monitor"  # where the PBX records (FreePBX: dated folders)
DAY = "2026/11/23"
USER, PASSWORD = "callcentre", "s3cret-Pa55word"
TOKEN = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
AT = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
on_sqlite = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


class PbxWeb:
    """The PBX's monitor directory served read-only under /monitor/ with basic auth, as
    nginx would; every request is noted. /slow/… answers late, /moved/… redirects."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[tuple[str, str, str | None]] = []  # method, path, Authorization
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, pbx=self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def record(self, subpath: str, content: bytes | None = None, *, seconds: float = 1.0) -> bytes:
        """A file the PBX wrote under its monitor directory (a finished WAV by default)."""
        path = self.root / subpath
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            tone(path, seconds, 1000 + len(self.requests))
        else:
            path.write_bytes(content)
        return path.read_bytes()

    def gets(self) -> list[str]:
        return [path for method, path, _ in self.requests if method == "GET"]


class _Handler(SimpleHTTPRequestHandler):
    def __init__(self, *args: Any, pbx: PbxWeb, **kwargs: Any) -> None:
        self.pbx = pbx
        super().__init__(*args, directory=str(pbx.root), **kwargs)

    def do_GET(self) -> None:
        self.pbx.requests.append(("GET", self.path, self.headers.get("Authorization")))
        if self.headers.get("Authorization") != f"Basic {TOKEN}":
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="monitor"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path.startswith("/moved/"):
            self.send_response(302)
            self.send_header("Location", self.pbx.url + "monitor/" + self.path[len("/moved/") :])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path.startswith("/slow/"):
            time.sleep(3)
            self.path = "/monitor/" + self.path[len("/slow/") :]
        if not self.path.startswith("/monitor/"):
            self.send_error(404)
            return
        self.path = self.path[len("/monitor") :]
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def pbx(tmp_path: Path) -> Iterator[PbxWeb]:
    web = PbxWeb(tmp_path / "pbx-monitor")
    web.root.mkdir()
    web.thread.start()
    yield web
    web.server.shutdown()
    web.server.server_close()


def fetching(pbx: PbxWeb, tmp_path: Path, database_url: str, **overrides: object) -> Settings:
    options: dict[str, object] = {
        "database_url": database_url,
        "recordings_dir": tmp_path / "server-recordings",
        "recordings_fetch_url": pbx.url + "monitor",
        "recordings_fetch_user": USER,
        "recordings_fetch_password": PASSWORD,
        "recordings_fetch_timeout": 2.0,
        "default_area_code": "029",
    }
    return load_settings(**(options | overrides))


def files_of(pbx: PbxWeb, tmp_path: Path, **overrides: object) -> RecordingFiles:
    return RecordingFiles.of(
        fetching(pbx, tmp_path, "sqlite+aiosqlite:///:memory:", **overrides), clock=SystemClock()
    )


def no_secrets(*texts: str) -> None:
    for text in texts:
        assert PASSWORD not in text and TOKEN not in text


def leftovers(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if p.name.endswith(".part")]


# -- where a PBX path points ---------------------------------------------------------------


def subpath(stored: str, recordings: str = "/srv/recordings") -> PurePosixPath:
    return recording_subpath(
        stored, pbx_dir=PurePosixPath(MONITOR), recordings_dirs=[PurePosixPath(recordings)]
    )


def test_a_pbx_path_keeps_its_dated_folders_under_the_recordings_directory() -> None:
    assert subpath(f"{MONITOR}/{DAY}/q-400-1.wav") == PurePosixPath(f"{DAY}/q-400-1.wav")
    assert subpath(f"{MONITOR}/1700000000.1-agent.wav") == PurePosixPath("1700000000.1-agent.wav")
    assert subpath("/srv/recordings/2026/x.wav") == PurePosixPath("2026/x.wav")  # same host
    assert subpath("2026/11/x.wav") == PurePosixPath("2026/11/x.wav")  # relative
    assert subpath(f"{MONITOR}//{DAY}/./x.wav") == PurePosixPath(f"{DAY}/x.wav")


@pytest.mark.parametrize(
    ("stored", "why"),
    [
        (f"{MONITOR}/../../../etc/passwd", "contains '..'"),
        ("../../etc/passwd", "contains '..'"),
        (f"{MONITOR}/{DAY}/../../x.wav", "contains '..'"),
        ("/etc/hostname", "outside CALLCENTRE_RECORDINGS_PBX_DIR"),
        ("/var/spool/asterisk/monitored/x.wav", "outside CALLCENTRE_RECORDINGS_PBX_DIR"),
        (MONITOR, "names a directory"),
        ("", "empty"),
        ("x\0.wav", "NUL"),
    ],
)
def test_paths_outside_the_directories_are_refused(stored: str, why: str) -> None:
    with pytest.raises(RecordingRefused, match=why):
        subpath(stored)


def test_two_days_with_the_same_file_name_give_each_call_its_own(tmp_path: Path) -> None:
    directory = tmp_path / "recordings"
    for day, content in (("2026/11/22", b"monday"), ("2026/11/23", b"tuesday")):
        (directory / day).mkdir(parents=True)
        (directory / day / "in-1001.wav").write_bytes(content)
    files = RecordingFiles(directory)
    assert files.find(f"{MONITOR}/2026/11/22/in-1001.wav").read_bytes() == b"monday"
    assert files.find(f"{MONITOR}/2026/11/23/in-1001.wav").read_bytes() == b"tuesday"
    with pytest.raises(RecordingNotFound, match=r"looked at .*2026/11/24/in-1001\.wav"):
        files.find(f"{MONITOR}/2026/11/24/in-1001.wav")  # never another day's file
    with pytest.raises(RecordingNotFound, match="copied or mounted into CALLCENTRE_RECORDINGS"):
        files.find(f"{MONITOR}/in-1001.wav")  # nor the name alone


def test_a_symbolic_link_out_of_the_directory_is_refused(tmp_path: Path) -> None:
    directory, elsewhere = tmp_path / "recordings", tmp_path / "elsewhere"
    directory.mkdir()
    elsewhere.mkdir()
    (elsewhere / "secret.wav").write_bytes(b"not a recording")
    (directory / "2026").symlink_to(elsewhere)
    files = RecordingFiles(directory)
    with pytest.raises(RecordingRefused, match="symbolic link"):
        files.find(f"{MONITOR}/2026/secret.wav")
    assert not files.obtainable(f"{MONITOR}/2026/secret.wav")


def test_a_copy_taken_while_the_pbx_was_still_recording_is_not_handed_out(
    tmp_path: Path,
) -> None:
    """rsync or a mount may show a WAV before Asterisk has filled in its sizes."""
    tone(tmp_path / "live.wav", 1.0, 1000)
    whole = (tmp_path / "live.wav").read_bytes()
    (tmp_path / "live.wav").write_bytes(whole[:4] + bytes(4) + whole[8:])
    files = RecordingFiles(tmp_path)
    with pytest.raises(RecordingNotFound, match="still being written"):
        files.find(f"{MONITOR}/live.wav")
    (tmp_path / "live.wav").write_bytes(whole)  # the next copy is complete
    assert files.find(f"{MONITOR}/live.wav") == tmp_path / "live.wav"


def test_a_custom_pbx_directory_is_mapped(tmp_path: Path) -> None:
    (tmp_path / "2026").mkdir()
    (tmp_path / "2026" / "x.wav").write_bytes(b"x")
    files = RecordingFiles(tmp_path, pbx_dir="/recordings")
    assert files.find("/recordings/2026/x.wav") == tmp_path / "2026" / "x.wav"
    with pytest.raises(RecordingRefused, match=r"CALLCENTRE_RECORDINGS_PBX_DIR \(/recordings\)"):
        files.find(f"{MONITOR}/2026/x.wav")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"recordings_pbx_dir": "monitor"}, "RECORDINGS_PBX_DIR: .*not an absolute directory"),
        ({"recordings_pbx_dir": "/var/../etc"}, "RECORDINGS_PBX_DIR: .*without '..'"),
        ({"recordings_pbx_dir": "/"}, "RECORDINGS_PBX_DIR: .*not /"),
        ({"recordings_fetch_url": "ftp://pbx/monitor/"}, "RECORDINGS_FETCH_URL: .*http"),
        ({"recordings_fetch_url": f"https://{USER}:{PASSWORD}@pbx/m/"}, "must not contain"),
        ({"recordings_fetch_url": "https://pbx/m/?x=1"}, "must not have a query"),
        ({"recordings_fetch_user": USER}, "set together or not at all"),
        ({"recordings_fetch_timeout": 0}, "RECORDINGS_FETCH_TIMEOUT"),
        ({"recordings_fetch_max_mb": 0}, "RECORDINGS_FETCH_MAX_MB"),
    ],
)
def test_bad_recording_settings_are_named(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as failure:
        load_settings(**overrides)
    no_secrets(str(failure.value))


def test_the_fetch_url_is_normalised_and_the_password_kept_secret() -> None:
    settings = load_settings(
        recordings_fetch_url="https://pbx.example:8443/monitor",
        recordings_fetch_user=USER,
        recordings_fetch_password=PASSWORD,
        recordings_pbx_dir="/var/spool/asterisk/monitor/",
    )
    assert settings.recordings_fetch_url == "https://pbx.example:8443/monitor/"
    assert settings.recordings_pbx_dir == MONITOR
    no_secrets(repr(settings), repr(RecordingFiles.of(settings, clock=SystemClock()).fetcher))


# -- fetching from the PBX -----------------------------------------------------------------


def test_a_missing_file_is_fetched_once_into_its_dated_place(pbx: PbxWeb, tmp_path: Path) -> None:
    name = f"{DAY}/q-400-张三 1-20261123-100000-1700000000.1.wav"  # spaces and CJK quoted
    content = pbx.record(name)
    files = files_of(pbx, tmp_path)
    with ThreadPoolExecutor(8) as readers:  # a player's parallel range requests, say
        found = list(readers.map(files.find, [f"{MONITOR}/{name}"] * 8))
    assert set(found) == {tmp_path / "server-recordings" / name}
    assert found[0].read_bytes() == content
    assert len(pbx.gets()) == 1 and pbx.gets()[0].startswith(f"/monitor/{DAY}/q-400-%E5%BC%A0")
    assert files.find(f"{MONITOR}/{name}") == found[0] and len(pbx.gets()) == 1  # cached
    assert leftovers(tmp_path / "server-recordings") == []


def test_a_file_not_on_the_pbx_is_a_clear_retryable_error(pbx: PbxWeb, tmp_path: Path) -> None:
    files = files_of(pbx, tmp_path)
    with pytest.raises(RecordingNotFound, match="not on the PBX \\(HTTP 404") as missing:
        files.find(f"{MONITOR}/{DAY}/not-yet.wav")
    assert files.obtainable(f"{MONITOR}/{DAY}/not-yet.wav")  # it may come: ask again later
    no_secrets(str(missing.value))
    pbx.record(f"{DAY}/not-yet.wav")
    assert files.find(f"{MONITOR}/{DAY}/not-yet.wav").is_file()  # the next try gets it


def test_a_recording_still_being_written_is_not_kept(pbx: PbxWeb, tmp_path: Path) -> None:
    whole = pbx.record(f"{DAY}/live.wav")
    pbx.record(f"{DAY}/live.wav", whole[:4] + bytes(4) + whole[8:])  # as Asterisk writes it
    files = files_of(pbx, tmp_path)
    with pytest.raises(RecordingNotFound, match="still being recorded"):
        files.find(f"{MONITOR}/{DAY}/live.wav")
    assert not (tmp_path / "server-recordings" / DAY / "live.wav").exists()
    assert leftovers(tmp_path / "server-recordings") == []
    assert wav_unfinished(whole[:12], len(whole) - 1)  # cut short
    assert not wav_unfinished(whole[:12], len(whole))
    assert not wav_unfinished(b"\xff\xfbMP3 frames", 100)  # other formats cannot tell


def test_a_file_above_the_size_limit_is_refused(pbx: PbxWeb, tmp_path: Path) -> None:
    pbx.record(f"{DAY}/long.wav", seconds=70)  # 8 kHz 16-bit: 1.12 MB
    files = files_of(pbx, tmp_path, recordings_fetch_max_mb=1)
    with pytest.raises(RecordingFetchError, match=r"larger .* CALLCENTRE_RECORDINGS_FETCH_MAX_MB"):
        files.find(f"{MONITOR}/{DAY}/long.wav")
    assert list((tmp_path / "server-recordings").rglob("*.wav")) == []
    assert leftovers(tmp_path / "server-recordings") == []


def test_wrong_credentials_say_which_settings_and_never_show_them(
    pbx: PbxWeb, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    pbx.record(f"{DAY}/x.wav")
    files = files_of(pbx, tmp_path, recordings_fetch_password="not-the-password")
    with pytest.raises(RecordingFetchError, match=r"HTTP 401.*RECORDINGS_FETCH_USER") as refused:
        files.find(f"{MONITOR}/{DAY}/x.wav")
    assert "not-the-password" not in str(refused.value) + caplog.text


def test_redirects_are_not_followed_with_the_credentials(pbx: PbxWeb, tmp_path: Path) -> None:
    pbx.record(f"{DAY}/x.wav")
    files = files_of(pbx, tmp_path, recordings_fetch_url=pbx.url + "moved/")
    with pytest.raises(RecordingFetchError, match="redirect \\(HTTP 302\\), not followed"):
        files.find(f"{MONITOR}/{DAY}/x.wav")
    assert pbx.gets() == [f"/moved/{DAY}/x.wav"]


def test_a_pbx_too_slow_to_answer_gives_up_after_the_timeout(pbx: PbxWeb, tmp_path: Path) -> None:
    pbx.record(f"{DAY}/x.wav")
    files = files_of(
        pbx, tmp_path, recordings_fetch_url=pbx.url + "slow/", recordings_fetch_timeout=0.3
    )
    started = time.monotonic()
    with pytest.raises(RecordingFetchError, match=r"could not be fetched: .*timed out"):
        files.find(f"{MONITOR}/{DAY}/x.wav")
    assert time.monotonic() - started < 2.5
    assert leftovers(tmp_path / "server-recordings") == []


def test_an_unreachable_pbx_is_a_clear_error(tmp_path: Path) -> None:
    fetcher = RecordingFetcher(
        "http://127.0.0.1:9/monitor/", user=USER, password=PASSWORD, clock=SystemClock()
    )
    files = RecordingFiles(tmp_path, fetcher=fetcher)
    with pytest.raises(
        RecordingFetchError, match=re.escape("127.0.0.1:9/monitor/x.wav could not be")
    ):
        files.find(f"{MONITOR}/x.wav")


# -- the worker and the QA player both get the file ---------------------------------------


class Transcriber:
    """Hears two words in every file, and keeps what each file held."""

    workers = 1

    def __init__(self) -> None:
        self.files: dict[Path, bytes] = {}

    def submit(self, path: Path) -> Future[Heard]:
        self.files[path] = path.read_bytes()
        future: Future[Heard] = Future()
        future.set_result(Heard(str(path), 1.0, 8000, "fake", (Word("您好", 0.2, 0.6, 1.0),)))
        return future


async def recorded_call(
    db: Database, stem: str, *, agent_id: int | None = None, mixed: bool = False
) -> int:
    """An answered, ended call whose legs the PBX wrote in its dated folder."""
    async with db.session() as session:
        call = Call(
            linkedid=stem,
            direction=Direction.INBOUND,
            queue="service",
            started_at=AT,
            answered_at=AT + timedelta(seconds=4),
            ended_at=AT + timedelta(seconds=30),
            outcome=CallOutcome.ANSWERED,
            ring_seconds=4.0,
            hung_up_by=HungUpBy.CUSTOMER,
            agent_id=agent_id,
            recording=f"{MONITOR}/{DAY}/{stem}.wav" if mixed else None,
            recording_agent=f"{MONITOR}/{DAY}/{stem}-agent.wav",
            recording_customer=f"{MONITOR}/{DAY}/{stem}-customer.wav",
        )
        session.add(call)
        await session.flush()
        return call.id


async def job_of(db: Database, call_id: int) -> TranscriptionJob:
    async with db.session() as session:
        job = await get_job(session, call_id=call_id)
        assert job is not None
        return job


@on_sqlite
async def test_the_worker_fetches_both_legs_and_retries_what_is_not_there_yet(
    db: Database,
    database_url: str,
    pbx: PbxWeb,
    tmp_path: Path,
    clock: FixedClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = fetching(pbx, tmp_path, database_url)
    agent = pbx.record(f"{DAY}/1700000000.1-agent.wav")
    customer = pbx.record(f"{DAY}/1700000000.1-customer.wav")
    fetched = await recorded_call(db, "1700000000.1")
    late = await recorded_call(db, "1700000000.2")  # the PBX's copy is not there yet
    await on_call_ended(db, fetched)
    await on_call_ended(db, late)
    transcriber = Transcriber()

    async def work() -> int:
        return await run_transcription_worker(
            db, settings, pool=transcriber, clock=clock, until_idle=True, retry_delay=60
        )

    assert await work() == 2
    here = tmp_path / "server-recordings" / DAY
    assert transcriber.files == {
        here / "1700000000.1-agent.wav": agent,
        here / "1700000000.1-customer.wav": customer,
    }
    assert (await job_of(db, fetched)).status is JobStatus.DONE
    job = await job_of(db, late)
    assert (job.status, job.attempts) == (JobStatus.QUEUED, 1)  # to be retried
    assert "not on the PBX (HTTP 404" in (job.last_error or "")
    assert f"/monitor/{DAY}/1700000000.2-agent.wav" in (job.last_error or "")

    pbx.record(f"{DAY}/1700000000.2-agent.wav")
    pbx.record(f"{DAY}/1700000000.2-customer.wav")
    clock.advance(seconds=60)
    assert await work() == 1
    assert (await job_of(db, late)).status is JobStatus.DONE
    assert all(auth == f"Basic {TOKEN}" for _, _, auth in pbx.requests)
    no_secrets(caplog.text, job.last_error or "")


@on_sqlite
async def test_the_qa_player_fetches_the_legs_and_mixes_them(
    db: Database,
    database_url: str,
    pbx: PbxWeb,
    tmp_path: Path,
    clock: FixedClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = fetching(pbx, tmp_path, database_url)
    agent = pbx.record(f"{DAY}/1700000001.1-agent.wav", seconds=2)
    pbx.record(f"{DAY}/1700000001.1-customer.wav", seconds=2)
    async with running_app(settings, db, clock=clock) as api:
        call_id = await recorded_call(db, "1700000001.1", agent_id=api.ids["agent1"], mixed=True)
        missing = await recorded_call(db, "1700000001.2", agent_id=api.ids["agent1"])
        detail = (await api["qa"].get(f"/api/qa/calls/{call_id}")).json()
        assert detail["recordings"] == {"mixed": True, "agent": True, "customer": True}

        heard = await api["qa"].get(f"/api/calls/{call_id}/recording", params={"leg": "agent"})
        assert heard.status_code == 200 and heard.content == agent
        assert (tmp_path / "server-recordings" / DAY / "1700000001.1-agent.wav").is_file()
        # No mixed file on the PBX (404): the two legs are fetched and mixed here.
        mixed = await api["qa"].get(f"/api/calls/{call_id}/recording")
        assert mixed.status_code == 200 and mixed.content[:4] == b"RIFF"
        assert f"/monitor/{DAY}/1700000001.1.wav" in pbx.gets()

        absent = await api["qa"].get(f"/api/calls/{missing}/recording", params={"leg": "agent"})
        assert (absent.status_code, absent.json()["detail"][0]["code"]) == (404, "no_recording")

        async with db.session() as session:
            call = await session.get(Call, call_id)
            assert call is not None
            call.recording_customer = "/etc/hostname"
        refused = await api["qa"].get(f"/api/calls/{call_id}/recording", params={"leg": "customer"})
        assert refused.json()["detail"][0]["code"] == "recording_refused"
        assert "/etc/hostname" not in refused.text  # the detail is in the log
        assert "/etc/hostname is outside CALLCENTRE_RECORDINGS_PBX_DIR" in caplog.text
    no_secrets(caplog.text)


@on_sqlite
async def test_the_qa_player_says_when_the_pbx_cannot_be_asked(
    db: Database,
    database_url: str,
    pbx: PbxWeb,
    tmp_path: Path,
    clock: FixedClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = fetching(pbx, tmp_path, database_url, recordings_fetch_password="wr0ng-Pa55")
    pbx.record(f"{DAY}/1700000002.1-agent.wav")
    async with running_app(settings, db, clock=clock) as api:
        call_id = await recorded_call(db, "1700000002.1", agent_id=api.ids["agent1"])
        response = await api["qa"].get(f"/api/calls/{call_id}/recording", params={"leg": "agent"})
    assert (response.status_code, response.json()["detail"][0]["code"]) == (
        502,
        "recording_fetch_failed",
    )
    assert "HTTP 401" in caplog.text and "wr0ng-Pa55" not in caplog.text


def _leg(path: Path, seconds: float, level: int) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(array("h", [level]) * int(8000 * seconds))
    return path


def test_the_same_mix_made_at_once_by_several_requests(tmp_path: Path) -> None:
    """The QA player asks for several ranges of a call at once; each request that finds no
    mixed file yet mixes the legs: every one of them succeeds, the file is whole, and no
    partial file is left behind."""
    agent = _leg(tmp_path / "agent.wav", 20, 100)
    customer = _leg(tmp_path / "customer.wav", 20, 200)
    target = tmp_path / ".mixed" / "call-1.wav"
    barrier = threading.Barrier(8)

    def request() -> None:
        barrier.wait()
        mix(agent, customer, target)

    with ThreadPoolExecutor(8) as pool:
        for done in [pool.submit(request) for _ in range(8)]:
            done.result()
    with wave.open(str(target)) as mixed:
        assert mixed.getnframes() == 8000 * 20
        assert set(array("h", mixed.readframes(mixed.getnframes()))) == {300}
    assert sorted(p.name for p in target.parent.iterdir()) == ["call-1.wav"]
