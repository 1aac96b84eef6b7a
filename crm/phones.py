"""Normalise Chinese phone numbers so a caller can be matched to a customer by equality.

Numbers reach us from the Asterisk PBX (CallerIDNum: "+8613800138000", "013800138000",
"sip:1001@pbx") and from the spreadsheets renovation companies keep ("029-8888 6666 转801",
full-width digits, Excel floats).  Both sides go through `normalize_phone`, so the database
stores one canonical string per number and a caller is found with an indexed `=` query
instead of fuzzy matching.  Pure module: no I/O and no imports from the rest of the project.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import NoReturn

__all__ = [
    "PhoneKind",
    "PhoneNumber",
    "PhoneNumberError",
    "lookup_key",
    "normalize_phone",
    "split_phone_list",
]

# Digits are matched with [0-9], never \d: NFKC has already folded full-width digits, and
# digits of other scripts are not phone digits.
_SEPARATORS_RE = re.compile(r"[\s\-\u2010-\u2015\u2212\ufe58\ufe63.()]+")
_SCIENTIFIC_RE = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?e[+-]?[0-9]+", re.IGNORECASE)
_EXCEL_FLOAT_RE = re.compile(r"(\+?[0-9]+)\.0")
_SIP_RE = re.compile(r"<?sips?:([^@;>]*)", re.IGNORECASE)
_EXTENSION_RE = re.compile(
    r"(?:转分机|转|轉|分机|分機|;?ext(?:ension)?[.=:]?|x|#)\s*:?\s*([0-9]+)\s*$", re.IGNORECASE
)
_COMPACT_RE = re.compile(r"\+?[0-9]+")
_MOBILE_RE = re.compile(r"1[3-9][0-9]{9}")
_SERVICE_10_RE = re.compile(r"[48]00[0-9]{7}")
_SHORT_SERVICE_RE = re.compile(r"1[0-9]{4}|9[56][0-9]{3}|11[0249]|12[02]")
# 010 and 02X are the 3-digit area codes; the rest are 0 + 3 digits.  0400/0800 are not area
# codes, and excluding them keeps "4008009000" unambiguous as a service number.
_AREA_CODE_RE = re.compile(r"0(?:10|2[0-9]|(?![48]00)[3-9][0-9]{2})")
_LIST_SEPARATOR_RE = re.compile(r"[,;/|\n\r、，；／｜]|或者|或")


class PhoneKind(StrEnum):
    MOBILE = "mobile"
    LANDLINE = "landline"
    LOCAL = "local"  # landline without area code and no default area code configured
    SERVICE = "service"  # 400/800, 95xxx/96xxx, 1xxxx short numbers, 110/119/120/114...
    INTERNATIONAL = "international"
    EXTENSION = "extension"  # internal 3-6 digit PBX extension


class PhoneNumberError(ValueError):
    """The input cannot be read as a phone number; `reason` says why, for import reports."""

    def __init__(self, raw: object, reason: str) -> None:
        super().__init__(raw, reason)  # both in args, so the exception pickles
        self.raw = raw
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.reason} (input: {self.raw!r})"


class _Invalid(Exception):
    """Internal: carries only the reason; `normalize_phone` attaches the raw input."""


def _fail(reason: str) -> NoReturn:
    raise _Invalid(reason)


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    """A normalised number; `number` is the lookup key, `extension` is dialled after it."""

    number: str
    kind: PhoneKind
    extension: str | None = None
    area_code: str | None = None

    def display(self) -> str:
        """Format the way Chinese staff write numbers: 138 0013 8000, 029-8888 6666."""
        n = self.number
        if self.kind is PhoneKind.MOBILE:
            text = f"{n[:3]} {n[3:7]} {n[7:]}"
        elif self.kind is PhoneKind.LANDLINE and self.area_code:
            text = f"{self.area_code}-{_group_subscriber(n[len(self.area_code) :])}"
        elif self.kind is PhoneKind.LOCAL:
            text = _group_subscriber(n)
        elif self.kind is PhoneKind.SERVICE and len(n) == 10:
            text = f"{n[:3]}-{n[3:6]}-{n[6:]}"
        else:
            text = n
        return f"{text} 转{self.extension}" if self.extension else text


def _group_subscriber(subscriber: str) -> str:
    return f"{subscriber[:-4]} {subscriber[-4:]}"


def normalize_phone(raw: str | float, *, default_area_code: str | None = None) -> PhoneNumber:
    """Parse a PBX or spreadsheet value (str, int or float); raise PhoneNumberError on junk.

    `default_area_code` ("029") turns bare 7-8 digit local numbers into full landlines; an
    invalid default is a configuration bug and raises a plain ValueError.
    """
    area = _check_area_code(default_area_code) if default_area_code is not None else None
    try:
        text, extension = _split_extension(_to_text(raw))
        compact = _compact(text)
        if extension is None and (number := _trailing_extension(text)) is not None:
            return number
        return replace(_classify(compact, area), extension=extension)
    except _Invalid as exc:
        raise PhoneNumberError(raw, str(exc)) from None


def lookup_key(raw: str | None, *, default_area_code: str | None = None) -> str | None:
    """Key for the caller lookup query; None (never an exception) for unusable caller IDs."""
    if raw is None:
        return None
    try:
        return normalize_phone(raw, default_area_code=default_area_code).number
    except PhoneNumberError:
        return None


def split_phone_list(cell: str) -> list[str]:
    """Split a spreadsheet cell holding several numbers, keeping each number's extension.

    Spaces and dashes are formatting inside one number ("029 8888 6666"), so they only
    split when every space-separated piece is a whole number (10+ digits) on its own.
    """
    items: list[str] = []
    for chunk in _LIST_SEPARATOR_RE.split(cell):
        tokens = chunk.split()
        if len(tokens) > 1 and all(sum(c.isdigit() for c in t) >= 10 for t in tokens):
            items.extend(tokens)
        elif chunk.strip():
            items.append(chunk.strip())
    return items


def _check_area_code(code: str) -> str:
    digits = re.sub(r"[^0-9]", "", code)
    digits = digits if digits.startswith("0") else "0" + digits
    if not _AREA_CODE_RE.fullmatch(digits):
        raise ValueError(f"default_area_code {code!r} is not a Chinese area code like '029'")
    return digits


def _to_text(raw: object) -> str:
    """Undo spreadsheet damage and URI wrapping, leaving formatted digits (+ extension)."""
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        _fail(f"expected text or a number, got {type(raw).__name__}")
    if isinstance(raw, float):
        if not raw.is_integer():
            _fail("a number with a fractional part is not a phone number")
        return str(int(raw))
    if isinstance(raw, int):
        return str(raw)
    text = unicodedata.normalize("NFKC", raw)  # full-width digits, （）, －, ＋, U+3000
    text = "".join(c for c in text if unicodedata.category(c) != "Cf").strip()  # BOM, LRM
    if not text:
        _fail("the number is empty")
    if _SCIENTIFIC_RE.fullmatch(text):
        _fail(
            "the spreadsheet stored this as a number in scientific notation and lost "
            "digits; format the column as text and re-enter it"
        )
    if m := _EXCEL_FLOAT_RE.fullmatch(text):
        return m[1]
    if m := _SIP_RE.match(text):
        return m[1]
    return text[4:] if text[:4].lower() == "tel:" else text


def _split_extension(text: str) -> tuple[str, str | None]:
    """Split "转801", "ext. 801", "x801", "#801", "分机801" off the end."""
    m = _EXTENSION_RE.search(text)
    if not m:
        return text, None
    if len(m[1]) > 6:
        _fail(f"an extension has 1-6 digits, got {len(m[1])}")
    return text[: m.start()], m[1]


def _compact(text: str) -> str:
    compact = _SEPARATORS_RE.sub("", text)
    if not compact:
        _fail("the number has no digits")
    if not _COMPACT_RE.fullmatch(compact):
        _fail("the number contains letters or symbols that are not part of a phone number")
    return compact


def _trailing_extension(text: str) -> PhoneNumber | None:
    """Read "029-88886666-801" as number + extension when the head is a complete number.

    Only mobiles, landlines with an explicit area code and 400/800 numbers count as
    complete, so "138 0013 8000" or "029 8888 6666" are never cut short.
    """
    groups = [g for g in _SEPARATORS_RE.split(text) if g]
    if len(groups) < 2 or not groups[-1].isdigit() or len(groups[-1]) > 6:
        return None
    try:
        head = _classify("".join(groups[:-1]), None)
    except _Invalid:
        return None
    complete = head.kind in (PhoneKind.MOBILE, PhoneKind.LANDLINE) or (
        head.kind is PhoneKind.SERVICE and len(head.number) == 10
    )
    return replace(head, extension=groups[-1]) if complete else None


def _classify(compact: str, area: str | None) -> PhoneNumber:
    """Strip the country prefix (+86, 0086, bare 86) or recognise a foreign number."""
    if compact.startswith(("+", "00")):
        body = compact[1:] if compact.startswith("+") else compact[2:]
        return _after_86(body[2:]) if body.startswith("86") else _international(body)
    if compact.startswith("86") and len(compact) >= 12:
        # Bare 86 only when a whole mobile/landline follows: 8-digit locals may start with 86.
        try:
            national = _after_86(compact[2:])
        except _Invalid:
            national = None
        if national and national.kind in (PhoneKind.MOBILE, PhoneKind.LANDLINE):
            return national
    return _national(compact, area)


def _after_86(d: str) -> PhoneNumber:
    """After the country code landlines lose their trunk 0; Beijing's "10" looks mobile-ish."""
    return _national("0" + d if len(d) == 10 and d.startswith("10") else d, None)


def _international(body: str) -> PhoneNumber:
    if not 8 <= len(body) <= 15 or body.startswith("0"):
        _fail(f"an international number has a country code and 8-15 digits, got {len(body)}")
    return PhoneNumber("+" + body, PhoneKind.INTERNATIONAL)


def _national(d: str, area: str | None) -> PhoneNumber:
    n = len(d)
    if n < 3:
        _fail(f"too short for a phone number ({n} digits)")
    if n > 12:
        _fail(f"too long for a Chinese phone number ({n} digits)")
    if n <= 6:
        return _short(d)
    if d[0] == "0":
        return _mobile(d[1:]) if d[1] == "1" and d[2] != "0" else _landline(d)
    if d[0] == "1":
        return _mobile(d)
    if n <= 8:
        return _local(d, area)
    if d.startswith(("400", "800")):
        if not _SERVICE_10_RE.fullmatch(d):
            _fail(f"400/800 service numbers have 10 digits, got {n}")
        return PhoneNumber(d, PhoneKind.SERVICE)
    if n in (10, 11):
        return _landline("0" + d)  # spreadsheet dropped the trunk 0 of the area code
    _fail(f"{n} digits is neither a mobile nor a landline number")


def _short(d: str) -> PhoneNumber:
    kind = PhoneKind.SERVICE if _SHORT_SERVICE_RE.fullmatch(d) else PhoneKind.EXTENSION
    return PhoneNumber(d, kind)


def _mobile(d: str) -> PhoneNumber:
    if _MOBILE_RE.fullmatch(d):
        return PhoneNumber(d, PhoneKind.MOBILE)
    if len(d) == 11:
        _fail(f"{d[:2]} is not a mobile prefix; Chinese mobiles start with 13-19")
    _fail(f"a mobile number has 11 digits, got {len(d)}")


def _landline(d: str) -> PhoneNumber:
    """Area code (010, 02X: 8-digit subscriber; 0XXX: 7 or 8) + subscriber number."""
    m = _AREA_CODE_RE.match(d)
    if not m:
        _fail(f"{d[:4]} is not a Chinese area code")
    area, subscriber = m[0], d[m.end() :]
    lengths = (8,) if len(area) == 3 else (7, 8)
    if len(subscriber) not in lengths:
        allowed = " or ".join(map(str, lengths))
        _fail(
            f"a landline in area {area} needs a {allowed}-digit subscriber number, "
            f"got {len(subscriber)}"
        )
    return PhoneNumber(d, PhoneKind.LANDLINE, area_code=area)


def _local(d: str, area: str | None) -> PhoneNumber:
    return _landline(area + d) if area else PhoneNumber(d, PhoneKind.LOCAL)
