"""Cutting the AMI byte stream into messages, the same way for a live socket and a capture.

Fixes two weak spots of panoramisk's reader: a UTF-8 character split across TCP reads is
decoded whole (incremental decoder), and a peer that never ends its frame cannot grow the
buffer without bound. A frame longer than the cap is dropped up to its end and counted
(`oversized`); the connection is kept, since the blank line that ends it is the only place
the stream can be picked up again anyway (as at the start of a connection). A peer that
never ends it at all falls silent to the client's watchdog, which reconnects.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator

from panoramisk.message import Message

FRAME_END = "\r\n\r\n"
BANNER_PREFIX = "Asterisk Call Manager/"
MAX_FRAME_CHARS = 1 << 20


class FrameDecoder:
    def __init__(self, max_frame_chars: int = MAX_FRAME_CHARS) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._max = max_frame_chars
        self._skipping = False  # inside a frame over the cap: dropped up to its end
        self.banner: str | None = None
        self.oversized = 0  # frames dropped for being over the cap

    def feed(self, data: bytes) -> Iterator[str]:
        """The complete frames in `data` plus what was buffered, as text without the CRLFs."""
        self._buffer += self._decoder.decode(data)
        if self.banner is None and self._buffer.startswith(BANNER_PREFIX):
            line, sep, rest = self._buffer.partition("\r\n")
            if not sep:
                return
            self.banner, self._buffer = line, rest
        if self._skipping:
            end = self._buffer.find(FRAME_END)
            if end < 0:  # keep only what could be the start of the end marker
                self._buffer = self._buffer[-(len(FRAME_END) - 1) :]
                return
            self._buffer = self._buffer[end + len(FRAME_END) :]
            self._skipping = False
        *frames, self._buffer = self._buffer.split(FRAME_END)
        if len(self._buffer) > self._max:
            self.oversized += 1
            self._skipping = True
            self._buffer = self._buffer[-(len(FRAME_END) - 1) :]
        for frame in frames:
            text = frame.strip("\r\n")
            if len(text) > self._max:  # ended within one read, but as much over the cap
                self.oversized += 1
            elif text:
                yield text


class EventFilter:
    """The unsolicited events a consumer uses; the others are dropped before being parsed.

    Most of a PBX's traffic is of no use to the bridge (VarSet of variables it does not
    track, Newexten of most applications, DeviceStateChange, Cdr...): recognising those from
    the frame's text and skipping them is far cheaper than building a Message to throw away.
    Responses, and events answering one of our actions (they carry an ActionID), always pass.
    """

    def __init__(
        self, events: Iterable[str], variables: Iterable[str] = (), applications: Iterable[str] = ()
    ) -> None:
        self.events = frozenset(events)
        # Frequent events wanted only for some values of one header.
        self._only = {
            "VarSet": ("\r\nVariable: ", frozenset(variables)),
            "Newexten": ("\r\nApplication: ", frozenset(applications)),
        }

    def wants(self, frame: str) -> bool:
        if not frame.startswith("Event: "):
            return True
        end = frame.find("\r\n")
        name = frame[7:end] if end >= 0 else frame[7:]
        if name in self.events:
            only = self._only.get(name)
            return only is None or _header(frame, only[0]) in only[1]
        return "\nActionID: " in frame


def _header(frame: str, marker: str) -> str | None:
    """The value of the header that `marker` ("\\r\\nName: ") starts, if the frame has it."""
    start = frame.find(marker)
    if start < 0:
        return None
    start += len(marker)
    end = frame.find("\r\n", start)
    return frame[start:end] if end >= 0 else frame[start:]


def parse_frame(frame: str) -> Message | None:
    """A frame as panoramisk's Message, or None when it is neither a response nor an event."""
    return Message.from_line(frame)


def read_capture(data: bytes) -> Iterator[Message]:
    """Every message of a raw AMI capture (the shared fixture format)."""
    decoder = FrameDecoder(max_frame_chars=len(data) + 1)
    for frame in decoder.feed(data + FRAME_END.encode()):
        message = parse_frame(frame)
        if message is not None:
            yield message
