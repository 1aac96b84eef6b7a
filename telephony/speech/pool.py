"""A pool of transcription processes, each loading the model once and taking one file at a time.

Why not `multiprocessing.Pool` or `ProcessPoolExecutor`: when a worker dies in native code
(Kaldi) the first loses the task forever and the second breaks every pending future without
saying which file killed it. Here each process is driven by its own thread over a pipe, so a
death is noticed at once (the process sentinel), blamed on exactly one file, and that file is
retried (`crash_retries`) on a fresh process while the other workers carry on. Processes are
started with `spawn` (no forked copies of the server's threads, sockets or event loop) and
replaced after `recycle_after` files, which bounds the native memory a long run accumulates.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import queue
import signal
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from enum import StrEnum
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from crm.clock import Clock
from telephony.speech.errors import (
    AudioFormatError,
    ModelUnavailable,
    TranscriptionError,
    WorkerCrashed,
)
from telephony.speech.model_dir import DOWNLOAD_HINT, model_problems
from telephony.speech.recognizer import SPEECH_ONLY, Transcript, load_model, transcribe_file
from telephony.speech.speech_detection import SpeechDetection

log = logging.getLogger(__name__)
_STOP_GRACE_SECONDS = 10.0


class _Says(StrEnum):
    """What a worker process sends its parent first in each (word, payload) message; a failed
    file's word is its error's class name instead (`_ERRORS`)."""

    READY = "ready"  # the model is loaded; payload: the worker's pid
    FATAL = "fatal"  # the model could not be loaded; payload: why
    OK = "ok"  # a file's transcript; payload: Transcript.to_message()


@dataclass(eq=False)
class _Task:
    path: Path
    future: Future[Transcript] = field(default_factory=Future)
    crashes: int = 0


class TranscriptionPool:
    """`submit(path)` returns a Future of the file's Transcript; thread-safe."""

    def __init__(
        self,
        model_path: Path,
        *,
        clock: Clock,
        workers: int = 1,
        recycle_after: int = 200,
        crash_retries: int = 0,
        detection: SpeechDetection | None = SPEECH_ONLY,
    ) -> None:
        problems = model_problems(model_path)
        if problems:
            raise ModelUnavailable(f"{problems[0]}; {DOWNLOAD_HINT}")
        if workers < 1 or recycle_after < 1 or crash_retries < 0:
            raise ValueError("workers and recycle_after must be at least 1, crash_retries 0")
        self.model_path = model_path
        self.clock = clock  # wait_ready's deadline
        self.workers = workers
        self.recycle_after = recycle_after
        self.crash_retries = crash_retries
        self.detection = detection  # how workers find speech; None: whole files
        self.files_done = 0  # files transcribed (or refused) by a worker, crashes excluded
        self.crashes = 0  # worker processes that died mid-file
        self.recycled = 0  # worker processes replaced after recycle_after files
        self._tasks: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._slots: list[_Slot] = []
        self._closed = False
        self._fatal: str | None = None  # the model failed to load: every file would fail

    def start(self) -> TranscriptionPool:
        """Start every worker now, loading the model in each (otherwise on first use)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the pool is closed")
            while len(self._slots) < self.workers:
                slot = _Slot(self, len(self._slots) + 1)
                self._slots.append(slot)
                slot.thread.start()
        return self

    def wait_ready(self, timeout: float | None = None) -> int:
        """Start the workers if need be and wait until each has loaded the model or failed
        to (or `timeout` passes): how many are ready to transcribe."""
        if not self._slots:
            self.start()
        deadline = None if timeout is None else self.clock.monotonic() + timeout
        for slot in list(self._slots):
            left = None if deadline is None else max(0.0, deadline - self.clock.monotonic())
            slot.loaded.wait(left)
        return sum(1 for slot in list(self._slots) if slot.pid is not None)

    def submit(self, path: Path) -> Future[Transcript]:
        if not self._slots and not self._closed:
            self.start()
        task = _Task(Path(path))
        if self._closed:
            task.future.set_exception(TranscriptionError(f"{path}: the pool is closed"))
        elif self._fatal is not None:
            task.future.set_exception(ModelUnavailable(self._fatal))
        else:
            self._tasks.put(task)
        return task.future

    def transcribe(self, path: Path) -> Transcript:
        return self.submit(path).result()

    def busy(self) -> dict[int, Path]:
        """The file each worker process is transcribing now, by process id."""
        return {
            slot.pid: slot.current
            for slot in list(self._slots)
            if slot.pid is not None and slot.current is not None
        }

    def worker_pids(self) -> list[int]:
        """Process ids of the live worker processes (loading the model or ready)."""
        processes = [slot.process for slot in list(self._slots)]
        return [p.pid for p in processes if p is not None and p.pid and p.is_alive()]

    def close(self) -> None:
        """Cancel the files still queued, let the workers finish the ones they have, then
        stop the worker processes."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            slots = list(self._slots)
        self._cancel_queued()
        for _ in slots:
            self._tasks.put(None)
        for slot in slots:
            slot.thread.join()
        self._cancel_queued()  # requeued by a crash while closing

    def _cancel_queued(self) -> None:
        while True:
            try:
                task = self._tasks.get_nowait()
            except queue.Empty:
                return
            if task is None:
                self._tasks.put(None)  # a sentinel: leave it for its thread
                return
            if not task.future.cancel():  # already running: requeued after a crash
                task.future.set_exception(TranscriptionError(f"{task.path}: the pool closed"))

    def __enter__(self) -> TranscriptionPool:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _count(self, attribute: str) -> None:
        with self._lock:
            setattr(self, attribute, getattr(self, attribute) + 1)


class _Slot:
    """One worker process and the thread that feeds it files one at a time."""

    def __init__(self, pool: TranscriptionPool, number: int) -> None:
        self.pool = pool
        self.number = number
        self.process: BaseProcess | None = None
        self.conn: Connection | None = None
        self.files = 0  # done by the current process
        self.pid: int | None = None
        self.current: Path | None = None
        self.loaded = threading.Event()  # the first process has loaded the model, or failed
        self.thread = threading.Thread(target=self._run, name=f"transcriber-{number}", daemon=True)

    def _run(self) -> None:
        try:
            try:  # load the model now, not when the first call needs it
                if self.pool._fatal is None:
                    self._ensure_process()
            except ModelUnavailable as exc:
                self.pool._fatal = str(exc)
            except WorkerCrashed as exc:  # killed while loading: try again on demand
                log.warning("transcription worker %s: %s", self.number, exc)
            except Exception:  # could not start one (out of processes...): try on demand
                log.exception("transcription worker %s could not start", self.number)
            finally:
                self.loaded.set()
            while (task := self.pool._tasks.get()) is not None:
                if task.crashes == 0 and not task.future.set_running_or_notify_cancel():
                    continue  # cancelled while queued
                try:
                    self._handle(task)
                except Exception as exc:  # this thread must outlive any one file
                    log.exception("transcription worker %s failed on %s", self.number, task.path)
                    self._discard_process()
                    if not task.future.done():
                        task.future.set_exception(TranscriptionError(f"{task.path}: {exc}"))
        finally:
            self._stop_process()

    def _handle(self, task: _Task) -> None:
        if self.pool._fatal is not None:
            task.future.set_exception(ModelUnavailable(self.pool._fatal))
            return
        try:
            conn = self._ensure_process()
        except ModelUnavailable as exc:
            self.pool._fatal = str(exc)
            task.future.set_exception(exc)
            return
        except WorkerCrashed as exc:
            self._crashed(task, exc.reason, "loading the model for")
            return
        self.current = task.path
        try:
            conn.send(str(task.path))
            reply = self._receive(conn)
        except (EOFError, OSError):
            reply = None
        finally:
            self.current = None
        if reply is None:
            process = self.process
            if process is not None:
                process.join(1.0)
            self._discard_process()
            self._crashed(task, _exit_reason(process.exitcode if process else None), "transcribing")
            return
        self.pool._count("files_done")
        self.files += 1
        recycle = self.files >= self.pool.recycle_after
        if recycle:
            self.pool._count("recycled")
        kind, payload = reply
        if kind == _Says.OK:
            task.future.set_result(Transcript.from_message(payload))
        else:
            task.future.set_exception(_ERRORS.get(kind, TranscriptionError)(payload))
        if recycle:  # after handing the result over: the caller need not wait for this
            self._stop_process()

    def _receive(self, conn: Connection) -> Any:
        """The worker's reply, or None if the process died first."""
        assert self.process is not None
        wait([conn, self.process.sentinel])
        try:
            return conn.recv() if conn.poll() else None
        except (EOFError, OSError):  # a dead process's pipe reads as closed
            return None

    def _crashed(self, task: _Task, reason: str, doing: str) -> None:
        """The process died: retry the file on a fresh one, or give it up."""
        self.pool._count("crashes")
        log.warning(
            "transcription worker %s died (%s) %s %s", self.number, reason, doing, task.path
        )
        if task.crashes < self.pool.crash_retries:
            task.crashes += 1
            self.pool._tasks.put(task)
        else:
            task.future.set_exception(
                WorkerCrashed(
                    f"{task.path}: the transcription worker process died ({reason}) while "
                    f"{doing} it",
                    reason=reason,
                )
            )

    def _ensure_process(self) -> Connection:
        if self.process is not None and self.conn is not None and self.process.is_alive():
            return self.conn
        self._discard_process()
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(
            target=_serve,
            args=(child, str(self.pool.model_path), self.pool.detection),
            name=f"transcriber-{self.number}",
            daemon=True,
        )
        self.process, self.conn, self.files = process, parent, 0
        try:
            process.start()
        except OSError as exc:  # killed before it could read its start-up data
            self._discard_process()
            raise WorkerCrashed(
                f"{self.pool.model_path}: the worker process died starting ({exc})",
                reason="died starting",
            ) from None
        except BaseException:
            self._discard_process()  # never started: nothing to join
            raise
        finally:
            child.close()
        ready = self._receive(parent)
        if ready is None:  # killed (or out of memory) while loading: not the model's fault
            process.join(1.0)
            reason = _exit_reason(process.exitcode)
            self._discard_process()
            raise WorkerCrashed(
                f"{self.pool.model_path}: the worker process died loading the model ({reason})",
                reason=reason,
            )
        if ready[0] != _Says.READY:
            self._discard_process()
            raise ModelUnavailable(str(ready[1]))
        self.pid = int(ready[1])
        return parent

    def _stop_process(self) -> None:
        """Ask the worker to exit after its current file; kill it if it does not."""
        if self.process is not None and self.conn is not None:
            with contextlib.suppress(OSError):  # already gone
                self.conn.send(None)
            self.process.join(_STOP_GRACE_SECONDS)
        self._discard_process()

    def _discard_process(self) -> None:
        if self.process is not None and self.process.is_alive():
            self.process.kill()
            self.process.join(_STOP_GRACE_SECONDS)
        if self.conn is not None:
            self.conn.close()
        self.process = self.conn = self.pid = None


# Errors cross the pipe as (class name, message) and are raised again as the same class.
_ERRORS: dict[str, type[TranscriptionError]] = {
    cls.__name__: cls for cls in (TranscriptionError, AudioFormatError, ModelUnavailable)
}


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _serve(conn: Connection, model_path: str, detection: SpeechDetection | None) -> None:
    """A worker process: load the model, then transcribe each path sent until None or EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent, which stops us
    try:
        model = load_model(Path(model_path))
    except TranscriptionError as exc:
        conn.send((_Says.FATAL, str(exc)))
        return
    conn.send((_Says.READY, os.getpid()))
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):  # the parent is gone: nobody wants the result
            break
        if request is None:
            break
        reply: tuple[str, Any]
        try:
            reply = (_Says.OK, transcribe_file(model, Path(request), detection).to_message())
        except TranscriptionError as exc:
            reply = (type(exc).__name__, str(exc))
        except Exception as exc:  # a bug must not kill the worker: report it with the file
            reply = ("TranscriptionError", f"{request}: {type(exc).__name__}: {exc}")
        try:
            conn.send(reply)
        except OSError:
            break
    # Leave without the model's native destructor, which takes a quarter of a second for the
    # small test model (more for a large one) to free what the kernel frees at once; nothing
    # else here needs cleaning up. Stopping and recycling a worker are that much quicker.
    os._exit(0)
