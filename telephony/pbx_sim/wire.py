"""The AMI wire format: reading the client's actions and writing responses and events.

Asterisk frames every message as `Key: Value\\r\\n` lines ended by an empty line; the banner is
one line. Header names are matched case-insensitively, as `astman_get_header` does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
AMI_VERSION = "11.0.0"
ASTERISK_VERSION = "22.10.1"

Fields = list[tuple[str, str]]
FieldSeq = Sequence[tuple[str, str]]


class Message:
    """One action sent by a client: its headers, in order, repeats kept (`Variable:`)."""

    def __init__(self, fields: Sequence[tuple[str, str]]) -> None:
        self.fields = list(fields)

    def get(self, key: str, default: str = "") -> str:
        key = key.lower()
        for name, value in self.fields:
            if name.lower() == key:
                return value
        return default

    def get_all(self, key: str) -> list[str]:
        key = key.lower()
        return [value for name, value in self.fields if name.lower() == key]

    @property
    def action(self) -> str:
        return self.get("Action").strip()

    @property
    def action_id(self) -> str:
        return self.get("ActionID")

    def __repr__(self) -> str:
        return f"Message({self.fields!r})"


class ActionReader:
    """Splits the bytes a client sends into messages (CRLF or bare LF line ends)."""

    def __init__(self) -> None:
        self._buffer = b""
        self._lines: Fields = []

    def feed(self, data: bytes) -> list[Message]:
        self._buffer += data
        messages: list[Message] = []
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                return messages
            raw, self._buffer = self._buffer[:end], self._buffer[end + 1 :]
            line = raw.rstrip(b"\r").decode("utf-8", "replace")
            if not line:
                if self._lines:
                    messages.append(Message(self._lines))
                    self._lines = []
                continue
            name, colon, value = line.partition(":")
            if colon:
                self._lines.append((name.strip(), value[1:] if value.startswith(" ") else value))


def encode(fields: Iterable[tuple[str, str]]) -> bytes:
    """One AMI message: `Key: Value` lines and the closing empty line."""
    lines = [f"{name}: {_clean(value)}\r\n" for name, value in fields]
    return ("".join(lines) + "\r\n").encode("utf-8")


def _clean(value: object) -> str:
    return str(value).replace("\r", " ").replace("\n", " ")


def with_action_id(action_id: str) -> Fields:
    """The `ActionID` line, which Asterisk leaves out when the action had none."""
    return [("ActionID", action_id)] if action_id else []


def response(kind: str, action_id: str, fields: FieldSeq = ()) -> bytes:
    return encode([("Response", kind), *with_action_id(action_id), *fields])


def success(action_id: str, message: str | None = None, fields: FieldSeq = ()) -> bytes:
    head = [("Message", message)] if message is not None else []
    return response("Success", action_id, [*head, *fields])


def error(action_id: str, message: str) -> bytes:
    return response("Error", action_id, [("Message", message)])


def list_start(action_id: str, message: str) -> bytes:
    return response("Success", action_id, [("EventList", "start"), ("Message", message)])


def list_complete(event: str, action_id: str, items: int, extra: FieldSeq = ()) -> bytes:
    return encode(
        [
            ("Event", event),
            *with_action_id(action_id),
            ("EventList", "Complete"),
            ("ListItems", str(items)),
            *extra,
        ]
    )


def split_messages(data: bytes) -> list[bytes]:
    """The messages of a capture, each with its closing `\\r\\n\\r\\n`, banner line dropped."""
    if data.startswith(b"Asterisk Call Manager/"):
        data = data[data.index(b"\r\n") + 2 :]
    parts = data.split(b"\r\n\r\n")
    return [part + b"\r\n\r\n" for part in parts if part.strip()]


def parse_message(raw: bytes) -> Fields:
    """Headers of one framed message (for tests and replays)."""
    fields: Fields = []
    for line in raw.decode("utf-8", "replace").split("\r\n"):
        if line:
            name, _, value = line.partition(": ")
            fields.append((name, value))
    return fields
