"""The shipped `asterisk-conf/` as data: dialplan contexts, [globals] and queue settings.

`callcentre pbx check` compares a live Asterisk with these files, and the PBX simulator runs
with them, so neither keeps a second list. The reading follows Asterisk's own: config.c's
sections and `;` comments, pbx_config.c's `exten =>` / `same =>` with numbered, `n` and
`n(label)` priorities, and the application data between the first `(` and the last `)`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

SHIPPED_DIR = Path(__file__).resolve().parents[2] / "asterisk-conf"

_SECTION_RE = re.compile(r"\[([^\]]+)\]\s*(?:\(([^)]*)\))?")
_PRIORITY_RE = re.compile(r"(\d+|n|hint)(?:\(([A-Za-z0-9_-]+)\))?")


class ConfError(ValueError):
    """A configuration file this reader cannot take apart (names the file and line)."""


@dataclass(frozen=True)
class Section:
    name: str
    is_template: bool
    templates: tuple[str, ...]
    options: tuple[tuple[str, str], ...]

    def last(self, key: str) -> str | None:
        values = [v for k, v in self.options if k.lower() == key.lower()]
        return values[-1] if values else None


@dataclass(frozen=True)
class Step:
    """One priority of an extension, as ShowDialPlan lists it."""

    priority: int
    app: str
    data: str
    label: str | None = None


@dataclass
class DialplanContext:
    name: str
    extensions: dict[str, list[Step]] = field(default_factory=dict)
    includes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ShippedConf:
    """What asterisk-conf/ sets up."""

    dialplan: dict[str, DialplanContext]
    globals: dict[str, str]
    queues: dict[str, Section]

    def queue_setting(self, queue: str, key: str) -> str | None:
        section = self.queues.get(queue)
        return section.last(key) if section is not None else None


def _strip_comment(line: str) -> str:
    """Drop a `;` comment; `\\;` is a literal semicolon (config.c)."""
    out, i = [], 0
    while i < len(line):
        if line[i] == "\\" and line[i + 1 : i + 2] == ";":
            out.append(";")
            i += 2
            continue
        if line[i] == ";":
            break
        out.append(line[i])
        i += 1
    return "".join(out)


def parse_sections(text: str, name: str) -> list[Section]:
    sections: list[Section] = []
    current: tuple[str, bool, tuple[str, ...]] | None = None
    options: list[tuple[str, str]] = []
    in_block = False

    def close() -> None:
        if current is not None:
            sections.append(Section(current[0], current[1], current[2], tuple(options)))

    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw
        if in_block:
            if "--;" not in line:
                continue
            line, in_block = line.split("--;", 1)[1], False
        if ";--" in line:
            line, rest = line.split(";--", 1)
            in_block = "--;" not in rest
        line = _strip_comment(line).strip()
        if not line:
            continue
        if line.startswith("#"):
            raise ConfError(f"{name}:{lineno}: #include/#exec is not read here: {raw.strip()!r}")
        if line.startswith("["):
            match = _SECTION_RE.fullmatch(line)
            if match is None:
                raise ConfError(f"{name}:{lineno}: bad section header {raw.strip()!r}")
            close()
            opts = [o.strip() for o in (match[2] or "").split(",") if o.strip()]
            current = (match[1].strip(), "!" in opts, tuple(o for o in opts if o != "!"))
            options = []
            continue
        if current is None or "=" not in line:
            raise ConfError(f"{name}:{lineno}: expected 'key = value' in a section: {raw!r}")
        key, value = line.split("=", 1)
        options.append((key.strip(), value.removeprefix(">").strip()))
    close()
    return sections


def parse_dialplan(
    sections: list[Section], name: str = "extensions.conf"
) -> dict[str, DialplanContext]:
    """Contexts with their extensions' numbered priorities (pbx_config.c's numbering)."""
    contexts: dict[str, DialplanContext] = {}
    for section in sections:
        if section.name in ("general", "globals"):
            continue
        context = contexts.setdefault(section.name, DialplanContext(section.name))
        exten: str | None = None
        last_priority = 0
        for key, value in section.options:
            if key == "include":
                context.includes.append(value)
                continue
            if key not in ("exten", "same"):
                raise ConfError(f"{name} [{section.name}]: unexpected {key!r}")
            rest = value
            if key == "exten":
                exten, _, rest = (part.strip() for part in value.partition(","))
            if exten is None:
                raise ConfError(f"{name} [{section.name}]: 'same' before any 'exten'")
            priority_text, _, app = (part.strip() for part in rest.partition(","))
            match = _PRIORITY_RE.fullmatch(priority_text)
            if match is None or match[1] == "hint":
                raise ConfError(f"{name} [{section.name}] {exten}: priority {priority_text!r}")
            priority = last_priority + 1 if match[1] == "n" else int(match[1])
            last_priority = priority
            app_name, paren, data = app.partition("(")
            if paren:
                if not data.endswith(")"):
                    raise ConfError(f"{name} [{section.name}] {exten}: no ')' in {app!r}")
                data = data[: data.rindex(")")]
            step = Step(priority, app_name.strip(), data if paren else "", match[2])
            context.extensions.setdefault(exten, []).append(step)
    return contexts


def read_shipped(directory: Path = SHIPPED_DIR) -> ShippedConf:
    """asterisk-conf/'s dialplan, globals and queues; ConfError naming what is wrong."""

    def sections(file: str) -> list[Section]:
        path = directory / file
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfError(f"cannot read {path}: {exc.strerror or exc}") from None
        return parse_sections(text, file)

    extensions = sections("extensions.conf")
    globals_ = next((s for s in extensions if s.name == "globals"), None)
    queues = {s.name: s for s in sections("queues.conf") if s.name != "general"}
    return ShippedConf(
        dialplan=parse_dialplan(extensions),
        globals=dict(globals_.options) if globals_ is not None else {},
        queues=queues,
    )
