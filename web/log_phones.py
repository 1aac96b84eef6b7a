"""Customers' phone numbers masked in log text (PIPL): a Chinese mobile or landline number,
however written, becomes its first 3 and last 4 digits around stars (`138****5678`), so a
log line still tells calls apart without holding the number.

What is matched, and why it is narrow — an Asterisk uniqueid or linkedid (`1733212345.123`),
a timestamp in milliseconds, a port, a year, a duration or a row id must stay readable:
- a mobile: `1[3-9]` and 9 more digits, optionally grouped 3-4-4 by spaces or dashes, after
  an optional `+86`, `0086` or `86` (a SIP caller id's usual forms);
- a landline: its area code (`010`, `02x`, or `0` and 3 digits from `03xx` on, the latter
  possibly in brackets), a space or dash or nothing, then 8 digits (7 after a 4-digit code),
  grouped 4-4 (3-4) or not; after `+86`/`0086` the area code drops its `0`;
- never inside a longer run of digits or letters, nor a decimal (`.` and a digit either
  side), nor as the last group of a UUID. A landline written without its area code is not
  told from an id, and is left alone.
"""

from __future__ import annotations

import re

STAR = "*"
_SEP = r"[ -]?"
_MOBILE = rf"1[3-9]\d{_SEP}\d{{4}}{_SEP}\d{{4}}"
_AREA_3 = r"(?:10|2\d)"  # Beijing, and 020-029: 8-digit numbers
_AREA_4 = r"[3-9]\d{2}"  # every other area: 7 or 8 digits
_LOCAL_8 = rf"\d{{4}}{_SEP}\d{{4}}"
_LOCAL_7_OR_8 = rf"(?:{_LOCAL_8}|\d{{3}}{_SEP}\d{{4}})"
_LANDLINE = (
    rf"(?:\(0{_AREA_3}\)\s?|0{_AREA_3}{_SEP}){_LOCAL_8}"
    rf"|(?:\(0{_AREA_4}\)\s?|0{_AREA_4}{_SEP}){_LOCAL_7_OR_8}"
)
_INTERNATIONAL_LANDLINE = rf"(?:{_AREA_3}{_SEP}{_LOCAL_8}|{_AREA_4}{_SEP}{_LOCAL_7_OR_8})"
_UUID_HEAD = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-"
_PHONE = re.compile(
    # Not glued to a letter, a digit or a decimal point with a digit before it; not a UUID's
    # last group (`8-4-4-4-12` hexadecimal, which can be all digits and start with 0).
    rf"(?<![0-9A-Za-z])(?<!\d\.)(?<!{_UUID_HEAD})"
    r"(?:"
    rf"(?P<cc>(?:\+|00)86{_SEP})(?P<intl>{_MOBILE}|{_INTERNATIONAL_LANDLINE})"
    rf"|(?P<cc86>86{_SEP})?(?P<national>{_MOBILE}|{_LANDLINE})"
    r")"
    r"(?![0-9A-Za-z])(?!\.\d)"
)


def mask_number(digits: str) -> str:
    """`13812345678` → `138****5678`: the first 3 and last 4 digits, a star for each other."""
    return digits[:3] + STAR * (len(digits) - 7) + digits[-4:]


def _masked(match: re.Match[str]) -> str:
    prefix = match["cc"] or match["cc86"] or ""
    number = match["intl"] or match["national"]
    return prefix + mask_number(re.sub(r"\D", "", number))


def mask_phones(text: str) -> str:
    """Every customer's phone number in `text` masked; everything else as it was."""
    if not any(c.isdigit() for c in text):  # most log lines: no work
        return text
    return _PHONE.sub(_masked, text)
