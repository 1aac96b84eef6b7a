"""Tests for crm.phones: real-world PBX and spreadsheet forms of Chinese phone numbers."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm.phones import (
    PhoneKind,
    PhoneNumber,
    PhoneNumberError,
    lookup_key,
    normalize_phone,
    split_phone_list,
)

M, L, LO, S, INTL, E = (
    PhoneKind.MOBILE,
    PhoneKind.LANDLINE,
    PhoneKind.LOCAL,
    PhoneKind.SERVICE,
    PhoneKind.INTERNATIONAL,
    PhoneKind.EXTENSION,
)

# (raw input, expected number, kind, extension)
VALID: list[tuple[str | float, str, PhoneKind, str | None]] = [
    # mobiles, as the PBX sends them
    ("13800138000", "13800138000", M, None),
    ("+8613800138000", "13800138000", M, None),
    ("008613800138000", "13800138000", M, None),
    ("8613800138000", "13800138000", M, None),
    ("013800138000", "13800138000", M, None),
    ("+86 013800138000", "13800138000", M, None),
    ("tel:+8613800138000", "13800138000", M, None),
    ("sip:13800138000@10.0.0.5", "13800138000", M, None),
    ("<sip:+8613800138000@pbx.example.cn;transport=udp>", "13800138000", M, None),
    ("19912345678", "19912345678", M, None),
    # mobiles, as spreadsheets hold them
    ("138-0013-8000", "13800138000", M, None),
    ("138 0013 8000", "13800138000", M, None),
    ("138.0013.8000", "13800138000", M, None),
    ("+86 138 0013 8000", "13800138000", M, None),
    ("(+86) 138-0013-8000", "13800138000", M, None),
    ("１３８００１３８０００", "13800138000", M, None),
    ("１３８－００１３－８０００", "13800138000", M, None),
    ("138\u30000013\u30008000", "13800138000", M, None),  # ideographic spaces
    ("138\u00a00013\u00a08000", "13800138000", M, None),  # non-breaking spaces
    ("138–0013—8000", "13800138000", M, None),  # en and em dashes
    ("\ufeff13800138000\u200e", "13800138000", M, None),  # BOM and LRM from CSV/web copy
    ("  13800138000  ", "13800138000", M, None),
    (13800138000, "13800138000", M, None),
    (13800138000.0, "13800138000", M, None),
    ("13800138000.0", "13800138000", M, None),
    ("13800138000-801", "13800138000", M, "801"),
    # landlines
    ("029-8888 6666", "02988886666", L, None),
    ("(029)88886666", "02988886666", L, None),
    ("（029）88886666", "02988886666", L, None),
    ("029 88886666", "02988886666", L, None),
    ("029 8888 6666", "02988886666", L, None),
    ("02988886666", "02988886666", L, None),
    ("2988886666", "02988886666", L, None),
    (2988886666, "02988886666", L, None),
    (2988886666.0, "02988886666", L, None),
    ("+86 (0)29 8888 6666", "02988886666", L, None),
    ("+86 29 8888 6666", "02988886666", L, None),
    ("+862988886666", "02988886666", L, None),
    ("00862988886666", "02988886666", L, None),
    ("862988886666", "02988886666", L, None),
    ("010-1234 5678", "01012345678", L, None),
    ("+86 10 1234 5678", "01012345678", L, None),
    ("0371-6888 6666", "037168886666", L, None),
    ("0371-688 6666", "03716886666", L, None),
    ("37168886666", "037168886666", L, None),
    ("3716886666", "03716886666", L, None),
    ("０２９－８８８８６６６６", "02988886666", L, None),
    # extensions
    ("029-88886666 转801", "02988886666", L, "801"),
    ("029-88886666转801", "02988886666", L, "801"),
    ("029-88886666 转 801", "02988886666", L, "801"),
    ("029-88886666-801", "02988886666", L, "801"),
    ("029 8888 6666 801", "02988886666", L, "801"),
    ("029-88886666 ext 801", "02988886666", L, "801"),
    ("029-88886666 ext. 801", "02988886666", L, "801"),
    ("029-88886666 EXT801", "02988886666", L, "801"),
    ("029-88886666 x801", "02988886666", L, "801"),
    ("029-88886666#801", "02988886666", L, "801"),
    ("029-88886666 ＃801", "02988886666", L, "801"),
    ("029-88886666分机801", "02988886666", L, "801"),
    ("029-88886666 转分机 801", "02988886666", L, "801"),
    ("tel:+86-29-8888-6666;ext=801", "02988886666", L, "801"),
    ("029-88886666 转1", "02988886666", L, "1"),
    ("029-88886666 转123456", "02988886666", L, "123456"),
    ("400-800-9000 转 2", "4008009000", S, "2"),
    ("400-800-9000-2", "4008009000", S, "2"),
    # local numbers (no default area code configured)
    ("88886666", "88886666", LO, None),
    ("8888-6666", "88886666", LO, None),
    ("86123456", "86123456", LO, None),  # 86 here is not a country code
    ("8886666", "8886666", LO, None),
    ("8888 6666 转801", "88886666", LO, "801"),
    # service numbers
    ("400-800-9000", "4008009000", S, None),
    ("4008009000", "4008009000", S, None),
    ("800 810 8888", "8008108888", S, None),
    ("95588", "95588", S, None),
    ("96123", "96123", S, None),
    ("10086", "10086", S, None),
    ("12315", "12315", S, None),
    ("12345", "12345", S, None),
    ("110", "110", S, None),
    ("119", "119", S, None),
    ("120", "120", S, None),
    ("114", "114", S, None),
    # internal PBX extensions
    ("1001", "1001", E, None),
    ("sip:1001@10.0.0.5", "1001", E, None),
    ("SIP:8001@pbx", "8001", E, None),
    ("801", "801", E, None),
    ("200001", "200001", E, None),
    # international
    ("+16502530000", "+16502530000", INTL, None),
    ("+1 650 253 0000", "+16502530000", INTL, None),
    ("001-650-253-0000", "+16502530000", INTL, None),
    ("+852 2123 4567", "+85221234567", INTL, None),
    ("+44 20 7946 0958 x12", "+442079460958", INTL, "12"),
]


@pytest.mark.parametrize(("raw", "number", "kind", "extension"), VALID)
def test_normalize_phone(
    raw: str | float, number: str, kind: PhoneKind, extension: str | None
) -> None:
    result = normalize_phone(raw)
    assert (result.number, result.kind, result.extension) == (number, kind, extension)
    if kind is PhoneKind.LANDLINE:
        assert result.area_code is not None and number.startswith(result.area_code)
    else:
        assert result.area_code is None


@pytest.mark.parametrize(
    ("raw", "area", "expected"),
    [
        ("88886666", "029", PhoneNumber("02988886666", L, area_code="029")),
        ("8888 6666", "29", PhoneNumber("02988886666", L, area_code="029")),
        ("8886666", "0371", PhoneNumber("03718886666", L, area_code="0371")),
        ("8888-6666 转801", "029", PhoneNumber("02988886666", L, "801", "029")),
        # an explicit area code or a mobile wins over the default
        ("010-1234 5678", "029", PhoneNumber("01012345678", L, area_code="010")),
        ("13800138000", "029", PhoneNumber("13800138000", M)),
        ("1001", "029", PhoneNumber("1001", E)),
    ],
)
def test_default_area_code(raw: str, area: str, expected: PhoneNumber) -> None:
    assert normalize_phone(raw, default_area_code=area) == expected


def test_default_area_code_must_be_valid() -> None:
    with pytest.raises(ValueError, match="area code"):
        normalize_phone("88886666", default_area_code="abc")


# (raw input, substring of the reason)
INVALID: list[tuple[object, str]] = [
    ("", "empty"),
    ("   ", "empty"),
    ("---", "no digits"),
    ("1.38001E+10", "scientific notation"),
    ("1.38001e10", "format the column as text"),
    ("abc", "letters"),
    ("<unknown>", "letters"),
    ("anonymous", "letters"),
    ("13800138000 张先生", "letters"),
    ("138OO138000", "letters"),  # letter O typed for zero
    ("+86+13800138000", "letters or symbols"),
    ("12", "too short"),
    ("7", "too short"),
    ("1234567890123", "too long"),
    ("1380013800", "11 digits"),  # 10 digits starting with 1
    ("1012345678", "11 digits"),  # only area codes starting 2-9 may lose their 0
    ("138001380001", "11 digits"),  # 12 digits, not 0 + mobile
    ("12800138000", "not a mobile prefix"),
    ("0138001380", "11 digits"),
    ("029-8888 666", "8-digit subscriber"),
    ("029-8888 66666", "8-digit subscriber"),
    ("0371-68 6666", "7 or 8-digit subscriber"),
    ("12345678", "11 digits"),
    ("400-800-900", "400/800"),
    ("298888666", "neither"),
    ("40080090001", "400/800"),
    ("+1 650", "8-15 digits"),
    ("+1234567890123456", "8-15 digits"),
    ("029-88886666 转1234567", "1-6 digits"),
    (13800138000.5, "fractional"),
    (float("nan"), "fractional"),
    (None, "expected text or a number"),
    (True, "expected text or a number"),
]


@pytest.mark.parametrize(("raw", "reason"), INVALID)
def test_invalid(raw: Any, reason: str) -> None:
    with pytest.raises(PhoneNumberError) as info:
        normalize_phone(raw)
    assert reason.lower() in info.value.reason.lower()
    assert info.value.raw is raw or info.value.raw == raw
    assert info.value.reason in str(info.value) and repr(raw) in str(info.value)


def test_error_is_value_error_and_pickles() -> None:
    err = PhoneNumberError("abc", "contains letters")
    assert isinstance(err, ValueError)
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.raw, copy.reason, str(copy)) == (err.raw, err.reason, str(err))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+8613800138000", "13800138000"),
        ("013800138000", "13800138000"),
        ("sip:1001@10.0.0.5", "1001"),
        ("029-88886666 转801", "02988886666"),
        (None, None),
        ("", None),
        ("<unknown>", None),
        ("anonymous", None),
        ("Anonymous", None),
        ("unknown", None),
        ("Restricted", None),
        ("asterisk", None),
        ("12", None),
        ("1.38001E+10", None),
    ],
)
def test_lookup_key(raw: str | None, expected: str | None) -> None:
    assert lookup_key(raw) == expected


def test_lookup_key_default_area_code() -> None:
    assert lookup_key("88886666") == "88886666"
    assert lookup_key("88886666", default_area_code="029") == "02988886666"


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("13800138000", ["13800138000"]),
        ("13800138000, 13900139000", ["13800138000", "13900139000"]),
        ("13800138000，13900139000", ["13800138000", "13900139000"]),
        ("13800138000；13900139000;13700137000", ["13800138000", "13900139000", "13700137000"]),
        ("13800138000/029-88886666", ["13800138000", "029-88886666"]),
        ("13800138000、13900139000", ["13800138000", "13900139000"]),
        ("13800138000 | 13900139000", ["13800138000", "13900139000"]),
        ("13800138000\n13900139000\r\n", ["13800138000", "13900139000"]),
        ("13800138000或13900139000", ["13800138000", "13900139000"]),
        ("13800138000 或者 13900139000", ["13800138000", "13900139000"]),
        ("029 8888 6666", ["029 8888 6666"]),
        ("138-0013-8000", ["138-0013-8000"]),
        ("+86 138 0013 8000", ["+86 138 0013 8000"]),
        ("029-88886666转801, 13800138000", ["029-88886666转801", "13800138000"]),
        ("029-88886666 转 801；138 0013 8000", ["029-88886666 转 801", "138 0013 8000"]),
        ("13800138000 13900139000", ["13800138000", "13900139000"]),
        ("", []),
        (" , ；", []),
    ],
)
def test_split_phone_list(cell: str, expected: list[str]) -> None:
    assert split_phone_list(cell) == expected


def test_split_then_normalize() -> None:
    cell = "029-88886666转801，１３８ ００１３ ８０００ 或 (029)8888-7777"
    numbers = [normalize_phone(item) for item in split_phone_list(cell)]
    assert [(n.number, n.extension) for n in numbers] == [
        ("02988886666", "801"),
        ("13800138000", None),
        ("02988887777", None),
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13800138000", "138 0013 8000"),
        ("029-88886666", "029-8888 6666"),
        ("01012345678", "010-1234 5678"),
        ("0371-6888 6666", "0371-6888 6666"),
        ("03716886666", "0371-688 6666"),
        ("4008009000", "400-800-9000"),
        ("+16502530000", "+16502530000"),
        ("88886666", "8888 6666"),
        ("10086", "10086"),
        ("1001", "1001"),
        ("029-88886666-801", "029-8888 6666 转801"),
        ("13800138000 ext 12", "138 0013 8000 转12"),
    ],
)
def test_display(raw: str, expected: str) -> None:
    assert normalize_phone(raw).display() == expected


# --- properties ---------------------------------------------------------------------------

_digits = st.text("0123456789", min_size=1, max_size=1)
_mobiles = st.builds(
    lambda second, rest: "1" + second + rest,
    st.sampled_from("3456789"),
    st.text("0123456789", min_size=9, max_size=9),
)
_area_codes = st.one_of(
    st.just("010"),
    st.builds(lambda d: "02" + d, _digits),
    st.builds(
        lambda a, b: "0" + a + b,
        st.sampled_from("3456789"),
        st.text("0123456789", min_size=2, max_size=2),
    ).filter(lambda a: a not in ("0400", "0800")),
)


@st.composite
def _landlines(draw: st.DrawFn) -> str:
    area = draw(_area_codes)
    length = 8 if len(area) == 3 else draw(st.sampled_from([7, 8]))
    subscriber = draw(st.sampled_from("23456789")) + draw(
        st.text("0123456789", min_size=length - 1, max_size=length - 1)
    )
    return area + subscriber


_FULL_WIDTH = str.maketrans("0123456789-+() ", "０１２３４５６７８９－＋（）\u3000")


def _landline_forms(number: str, area: str) -> list[str]:
    sub = number[len(area) :]
    spaced = f"{sub[:-4]} {sub[-4:]}"
    forms = [
        number,
        f"{area}-{sub}",
        f"{area} {spaced}",
        f"{area}-{sub[:-4]}-{sub[-4:]}",
        f"({area}){sub}",
        f"({area}) {spaced}",
        f"+86 {area[1:]} {spaced}",
        f"+86 (0){area[1:]} {spaced}",
        f"+86-{area[1:]}-{sub}",
        f"0086{area[1:]}{sub}",
        f"86{area[1:]}{sub}",
    ]
    if area != "010":  # "1012345678" stays an error: 10 digits starting with 1 (see INVALID)
        forms.append(number[1:])  # spreadsheet dropped the leading 0
    return forms + [form.translate(_FULL_WIDTH) for form in forms]


def _mobile_forms(number: str) -> list[str]:
    spaced = f"{number[:3]} {number[3:7]} {number[7:]}"
    forms = [
        number,
        spaced,
        f"{number[:3]}-{number[3:7]}-{number[7:]}",
        f"+86{number}",
        f"+86 {spaced}",
        f"(+86) {spaced}",
        f"0086{number}",
        f"86{number}",
        f"0{number}",
        f"{number}.0",
    ]
    return forms + [form.translate(_FULL_WIDTH) for form in forms]


@given(_mobiles)
def test_mobile_forms_round_trip(number: str) -> None:
    for form in _mobile_forms(number):
        result = normalize_phone(form)
        assert (result.number, result.kind, result.extension) == (number, M, None), form
    assert normalize_phone(int(number)).number == number
    assert normalize_phone(float(number)).number == number


@given(_landlines())
def test_landline_forms_round_trip(number: str) -> None:
    area = normalize_phone(number).area_code
    assert area is not None
    for form in _landline_forms(number, area):
        result = normalize_phone(form)
        assert (result.number, result.kind, result.area_code) == (number, L, area), form
        assert result.extension is None, form
    with_extension = normalize_phone(f"{area}-{number[len(area) :]} 转801")
    assert (with_extension.number, with_extension.extension) == (number, "801")


@given(st.one_of(_mobiles, _landlines()))
def test_display_normalises_back(number: str) -> None:
    assert normalize_phone(normalize_phone(number).display()).number == number


@given(st.text())
def test_lookup_key_never_raises(text: str) -> None:
    key = lookup_key(text)
    assert key is None or key == normalize_phone(text).number


@given(st.text(alphabet=st.sampled_from("0123456789 -+()#转x.,86")))
def test_lookup_key_never_raises_on_phone_like_text(text: str) -> None:
    key = lookup_key(text, default_area_code="029")
    assert key is None or key == normalize_phone(text, default_area_code="029").number


@given(st.text())
def test_split_phone_list_items_are_nonempty(text: str) -> None:
    assert all(item and item == item.strip() for item in split_phone_list(text))
