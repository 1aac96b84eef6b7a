"""The disposition codes as data: a TOML file (`default_codes.toml`, or the one configured)
read into a closed, validated set; a mistake in the file is reported with the file and the
entry, at start-up."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

DEFAULT_CODES_PATH = Path(__file__).with_name("default_codes.toml")
LANGUAGES = ("zh-CN", "en")
MAX_CODE = 32
MAX_NAME = 40
_CODE = re.compile(rf"^[a-z][a-z0-9_]{{0,{MAX_CODE - 1}}}$")


class CodesError(ValueError):
    """A codes file that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True, slots=True)
class DispositionCode:
    code: str
    names: dict[str, str]  # language → name


@dataclass(frozen=True, slots=True)
class DispositionCodes:
    """The configured codes, in the file's order."""

    codes: tuple[DispositionCode, ...]

    def __contains__(self, code: object) -> bool:
        return any(c.code == code for c in self.codes)

    def names(self) -> list[str]:
        return [c.code for c in self.codes]

    def names_of(self, code: str) -> dict[str, str]:
        """The code's name in each language; a code no longer listed is named as itself."""
        found = next((c for c in self.codes if c.code == code), None)
        return dict(found.names) if found else dict.fromkeys(LANGUAGES, code)


def _entry(source: str, index: int, raw: Any) -> DispositionCode:
    where = f"{source}: codes[{index}]"
    if not isinstance(raw, dict):
        raise CodesError(f"{where}: each entry is a table with code, zh-CN and en")
    unknown = sorted(set(raw) - {"code", *LANGUAGES})
    if unknown:
        raise CodesError(f"{where}: unknown key(s) {', '.join(unknown)}")
    code = raw.get("code")
    if not isinstance(code, str) or not _CODE.match(code):
        raise CodesError(
            f"{where}: code {code!r} must be lower-case letters, digits and _ "
            f"(at most {MAX_CODE}), starting with a letter"
        )
    names = {}
    for lang in LANGUAGES:
        name = raw.get(lang)
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME:
            raise CodesError(f"{where} ({code}): {lang} must name it (1 to {MAX_NAME} characters)")
        names[lang] = name.strip()
    return DispositionCode(code, names)


@lru_cache(maxsize=8)
def load_codes(path: Path | None = None) -> DispositionCodes:
    """The codes of the file at `path` (None: the shipped defaults)."""
    path = path or DEFAULT_CODES_PATH
    source = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CodesError(f"{source}: cannot be read ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise CodesError(f"{source}: not valid TOML ({exc})") from None
    raw = data.get("codes")
    if not isinstance(raw, list) or not raw:
        raise CodesError(f"{source}: lists no [[codes]]")
    codes = tuple(_entry(source, i, entry) for i, entry in enumerate(raw))
    seen: set[str] = set()
    for c in codes:
        if c.code in seen:
            raise CodesError(f"{source}: code {c.code!r} is listed twice")
        seen.add(c.code)
    return DispositionCodes(codes)
