"""SMS encoding and segment counts against shared/conformance/sms/RULES.md."""

# The characters under test are the look-alikes ruff warns about (curly quotes, dashes, Greek
# capitals that look Latin): spelled out, the cases read like RULES.md.
# ruff: noqa: RUF001, RUF002

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnichannel.channels import sms
from omnichannel.channels.sms import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    MAX_BODY_CHARS,
    PART_LIMITS,
    SINGLE_LIMITS,
    SmsSegments,
    encoding_of,
    segments,
)
from omnichannel.errors import ValidationError
from support import conformance_dir

# The test's own copy of the alphabet, column by column as RULES.md §2 draws it (0x00 .. 0x70),
# ESC (0x1B) left out. The reference packer below uses it, not the module's sets.
REF_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
REF_EXTENSION = frozenset({"\x0c", "^", "{", "}", "\\", "[", "~", "]", "|", "\u20ac"})
REF_GSM = REF_BASIC | REF_EXTENSION

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # 👨‍👩‍👧 man ZWJ woman ZWJ girl
FLAG_US = "\U0001f1fa\U0001f1f8"  # 🇺🇸 two regional indicators
GRIN = "\U0001f600"  # 😀


def reference(text: str) -> tuple[str, int, int, list[str]]:
    """A plain per-character greedy packer, straight from RULES.md §1 and §5."""
    if all(c in REF_GSM for c in text):
        encoding, single, part = "GSM-7", 160, 153
        sizes = [2 if c in REF_EXTENSION else 1 for c in text]
    else:
        encoding, single, part = "UCS-2", 70, 67
        sizes = [2 if ord(c) > 0xFFFF else 1 for c in text]
    units = sum(sizes)
    if units <= single:
        return encoding, units, 1, [text]
    parts, current, used = [], "", 0
    for char, size in zip(text, sizes, strict=True):
        if used + size > part:
            parts.append(current)
            current, used = "", 0
        current += char
        used += size
    parts.append(current)
    return encoding, units, len(parts), parts


def unit_size(part: str, encoding: str) -> int:
    """Units of one part, counted character by character."""
    if encoding == "GSM-7":
        return sum(2 if c in REF_EXTENSION else 1 for c in part)
    return sum(2 if ord(c) > 0xFFFF else 1 for c in part)


# --- §2 / §3: the character tables, read from RULES.md ----------------------------------------


def _rules_section(number: int) -> str:
    text = (conformance_dir("sms") / "RULES.md").read_text(encoding="utf-8")
    match = re.search(rf"^## {number}\. .*?(?=^## )", text, re.DOTALL | re.MULTILINE)
    assert match, f"RULES.md has no section {number}"
    return match.group(0)


def _table_rows(section: str) -> list[str]:
    """Body rows of the section's markdown table (header and separator dropped)."""
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return rows[2:]


def _code_points(cell: str) -> list[str]:
    return [chr(int(code, 16)) for code in re.findall(r"U\+([0-9A-F]{4})", cell)]


def rules_basic_by_code() -> dict[int, str]:
    """§2's table as code -> character (row is the low nibble, column the high one)."""
    by_code: dict[int, str] = {}
    for row in _table_rows(_rules_section(2)):
        cells = [cell.strip() for cell in row.strip("|").split(" | ")]
        low = int(cells[0], 16)
        for high, cell in enumerate(cells[1:]):
            found = _code_points(cell)
            if cell.startswith("ESC"):
                assert not found
                continue
            assert len(found) == 1, cell
            by_code[high * 0x10 + low] = found[0]
    return by_code


def rules_extension() -> list[str]:
    """§3's table: the ten characters reached through ESC."""
    rows = _table_rows(_rules_section(3))
    return [char for row in rows for char in _code_points(row)]


def test_basic_table_matches_rules():
    """GSM7_BASIC is exactly §2's table: 127 characters, 0x1B (ESC) excluded."""
    by_code = rules_basic_by_code()
    assert 127 == len(by_code) == len(set(by_code.values()))
    assert 0x1B not in by_code
    assert frozenset(by_code.values()) == GSM7_BASIC
    assert frozenset(by_code.values()) == REF_BASIC


def test_basic_table_in_code_order():
    """The module's alphabet string lists the characters at their TS 23.038 codes."""
    by_code = rules_basic_by_code()
    expected = "".join(by_code[code] for code in sorted(by_code))
    assert expected == sms._BASIC_BY_CODE


def test_extension_table_matches_rules():
    """GSM7_EXTENSION is exactly §3's ten characters (the escaped vertical bar included)."""
    chars = rules_extension()
    assert 10 == len(chars) == len(set(chars))
    assert frozenset(chars) == GSM7_EXTENSION
    assert frozenset(chars) == REF_EXTENSION


def test_tables_do_not_overlap():
    """No character is both basic and extension."""
    assert set() == GSM7_BASIC & GSM7_EXTENSION
    assert (127, 10) == (len(GSM7_BASIC), len(GSM7_EXTENSION))


def test_limits():
    """§4: 160 / 153 septets, 70 / 67 UTF-16 units; Twilio's 1,600-character body."""
    assert {"GSM-7": 160, "UCS-2": 70} == SINGLE_LIMITS
    assert {"GSM-7": 153, "UCS-2": 67} == PART_LIMITS
    assert 1600 == MAX_BODY_CHARS


# --- §6: worked examples ----------------------------------------------------------------------

WORKED = [
    ("Hello", "GSM-7", 5, 1, [5]),
    ("a" * 159 + "€", "GSM-7", 161, 2, [153, 7]),
    ("€" * 81, "GSM-7", 162, 2, [76, 5]),
    ("It’s here", "UCS-2", 9, 1, [9]),
    ("a" * 100 + "’", "UCS-2", 101, 2, [67, 34]),
    (GRIN * 36, "UCS-2", 72, 2, [33, 3]),
    ("ж" * 66 + GRIN + "ж" * 66, "UCS-2", 134, 3, [66, 66, 1]),
]


@pytest.mark.parametrize(
    ("text", "encoding", "units", "count", "part_lengths"),
    WORKED,
    ids=["hello", "159a+euro", "81euro", "curly-apostrophe", "100a+curly", "36grin", "zh+grin+zh"],
)
def test_worked_examples(text, encoding, units, count, part_lengths):
    """Every row of §6, with the part sizes the table spells out (76 + 5, 33 + 3)."""
    found = segments(text)
    assert (encoding, units, count) == (found.encoding, found.units, found.segments)
    assert part_lengths == [len(p) for p in found.parts]
    assert text == "".join(found.parts)
    assert len(text) == found.characters


def test_hello_in_full():
    """The whole result of the simplest case."""
    expected = SmsSegments(
        encoding="GSM-7", units=5, segments=1, parts=("Hello",), characters=5, non_gsm=()
    )
    assert expected == segments("Hello")


# --- §5: boundaries ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "encoding", "units", "count"),
    [
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("a" * 158 + "€", "GSM-7", 160, 1),
        ("€" * 80, "GSM-7", 160, 1),
        ("ж" * 70, "UCS-2", 70, 1),
        ("ж" * 71, "UCS-2", 71, 2),
        ("ж" * 134, "UCS-2", 134, 2),
        ("ж" * 135, "UCS-2", 135, 3),
        ("ж" * 68 + GRIN, "UCS-2", 70, 1),
        (GRIN * 35, "UCS-2", 70, 1),
        ("a" * 69 + "’", "UCS-2", 70, 1),
        ("a" * 70 + "’", "UCS-2", 71, 2),
    ],
)
def test_single_limit_boundaries(text, encoding, units, count):
    """Exactly at the single limit is 1 segment; one unit more needs a header in every part."""
    found = segments(text)
    assert (encoding, units, count) == (found.encoding, found.units, found.segments)


def test_escape_pair_never_straddles_a_part():
    """152 × a + € + 152 × a is 306 septets, yet 3 parts: the euro moves whole to part 2."""
    text = "a" * 152 + "€" + "a" * 152
    found = segments(text)
    assert (306, 3) == (found.units, found.segments)
    assert ("a" * 152, "€" + "a" * 151, "a") == found.parts
    assert [152, 153, 1] == [unit_size(p, "GSM-7") for p in found.parts]


def test_surrogate_pair_never_straddles_a_part():
    """66 × ж + 😀 + 66 × ж: the emoji moves whole to part 2 (ceil(134 / 67) would say 2)."""
    found = segments("ж" * 66 + GRIN + "ж" * 66)
    assert ("ж" * 66, GRIN + "ж" * 65, "ж") == found.parts
    assert [66, 67, 1] == [unit_size(p, "UCS-2") for p in found.parts]


@pytest.mark.parametrize(
    ("text", "part_units"),
    [
        ("a" * 153 + "€" + "a" * 10, [153, 12]),
        ("€" * 76 + "a" * 10, [153, 9]),
        ("a" * 151 + "€" + "a" * 10, [153, 10]),
        ("a" * 152 + "€€" + "a" * 5, [152, 9]),
        ("[" * 81, [152, 10]),
    ],
    ids=[
        "euro-opens-part-2",
        "euro-then-a",
        "euro-ends-part-1",
        "two-euros-straddle",
        "81-brackets",
    ],
)
def test_gsm_packing(text, part_units):
    """Parts fill up to 153 septets, one short where an escape pair would straddle."""
    found = segments(text)
    assert part_units == [unit_size(p, "GSM-7") for p in found.parts]


def test_long_text_is_counted_not_refused():
    """Counting is not sending: a body over MAX_BODY_CHARS still gets its count."""
    found = segments("a" * (MAX_BODY_CHARS + 1))
    assert (1601, 11) == (found.units, found.segments)
    assert ["a" * 153] * 10 + ["a" * 71] == list(found.parts)


def test_longest_body_all_euro_signs():
    """1,600 euro signs are 3,200 septets: 76 per part, 22 parts."""
    found = segments("€" * MAX_BODY_CHARS)
    assert (3200, 22) == (found.units, found.segments)
    assert [76] * 21 + [4] == [len(p) for p in found.parts]


# --- §2: which characters are GSM-7 -----------------------------------------------------------

PRESENT = [
    *"èéùìòà",
    "É",
    *"ÇÄÖÑÜÅÆØ",
    "ß",
    *"£¥§¤¡¿",
    *"ΔΦΓΛΩΠΨΣΘΞ",
    "@",
    "$",
    "_",
    "\n",
    "\r",
    " ",
]
ABSENT = [
    "`",
    "\t",
    "‘",
    "’",
    "“",
    "”",
    "\u2013",  # en dash
    "\u2014",  # em dash
    "…",
    "\u00a0",  # no-break space
    *"áíóú",
    *"ãõêâô",
    "ç",
    *"ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ",  # Greek capitals that look Latin (U+0391 ...)
    *"αβγδεζηθικλμνξοπρστυφχψω",
    *"жЖяЯ",
    *"中文",
    GRIN,
    "\x00",
    "\x1b",  # ESC itself is not a character to count
    "\x7f",
]


@pytest.mark.parametrize("char", PRESENT)
def test_present_characters_are_one_septet(char):
    """§2 'Present': each is GSM-7 and costs 1 septet."""
    found = segments(char + "x")
    assert ("GSM-7", 2, ()) == (found.encoding, found.units, found.non_gsm)
    assert "GSM-7" == encoding_of(char)


@pytest.mark.parametrize("char", ABSENT, ids=[f"U+{ord(c[0]):04X}" for c in ABSENT])
def test_absent_characters_force_ucs2(char):
    """§2 'Absent': any one of them switches the whole message to UCS-2."""
    found = segments("Hello " + char + " world")
    assert "UCS-2" == found.encoding
    assert (char,) == found.non_gsm
    assert "UCS-2" == encoding_of(char)


def test_c_cedilla_follows_the_standard():
    """0x09 is capital Ç (TS 23.038, GSM0338.TXT); lowercase ç is not GSM-7."""
    assert ("GSM-7", "UCS-2") == (encoding_of("Ç"), encoding_of("ç"))
    assert ("GSM-7", "UCS-2") == (segments("Ça va").encoding, segments("ça va").encoding)


def test_every_table_character_alone_is_gsm():
    """Each of the 137 characters is GSM-7 on its own, at its own cost."""
    for char in GSM7_BASIC:
        assert ("GSM-7", 1) == (segments(char).encoding, segments(char).units), repr(char)
    for char in GSM7_EXTENSION:
        assert ("GSM-7", 2) == (segments(char).encoding, segments(char).units), repr(char)


def test_whole_alphabet_is_one_gsm_message():
    """All 127 basic characters plus the 10 extension ones: 147 septets, one message."""
    text = "".join(sorted(GSM7_BASIC)) + "".join(sorted(GSM7_EXTENSION))
    found = segments(text)
    assert ("GSM-7", 147, 1) == (found.encoding, found.units, found.segments)


def test_non_gsm_lists_distinct_characters_in_order():
    """non_gsm names each offending character once, in order of first appearance."""
    found = segments("It’s “great” – isn’t it… 😀😀")
    assert ("’", "“", "”", "\u2013", "…", GRIN) == found.non_gsm


# --- §3: extension characters -----------------------------------------------------------------


@pytest.mark.parametrize("char", sorted(REF_EXTENSION))
def test_extension_costs_two_septets_in_gsm(char):
    """An extension character is ESC + code: 2 septets in a GSM-7 message."""
    found = segments("ab" + char)
    assert ("GSM-7", 4, 3) == (found.encoding, found.units, found.characters)


@pytest.mark.parametrize("char", sorted(REF_EXTENSION))
def test_extension_costs_one_unit_in_ucs2(char):
    """In a UCS-2 message an extension character is one BMP code unit like any other."""
    found = segments("ж" + char)
    assert ("UCS-2", 2) == (found.encoding, found.units)
    assert ("ж",) == found.non_gsm


# --- §5: UTF-16 units, not user-visible characters ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "units"),
    [(GRIN, 2), (FAMILY, 8), (FLAG_US, 4), ("ж", 1), ("中", 1), ("\U00020000", 2)],
    ids=["grin", "zwj-family", "flag", "cyrillic", "cjk", "cjk-ext-b"],
)
def test_utf16_units(text, units):
    """😀 is 2 units, a ZWJ family 8, a flag 4: units are UTF-16 code units."""
    found = segments(text)
    assert ("UCS-2", units, 1) == (found.encoding, found.units, found.segments)


def test_emoji_switches_gsm_text():
    """One emoji makes a 100-character ASCII text UCS-2: 102 units, 2 segments."""
    found = segments("a" * 100 + GRIN)
    assert ("UCS-2", 102, 2) == (found.encoding, found.units, found.segments)
    assert ["a" * 67, "a" * 33 + GRIN] == list(found.parts)


# --- bad input --------------------------------------------------------------------------------


def test_empty_text_is_rejected():
    """An empty body is out of scope (§5): providers reject it."""
    with pytest.raises(ValidationError) as caught:
        segments("")
    assert ("$", "empty") == (caught.value.errors[0].path, caught.value.errors[0].code)
    with pytest.raises(ValidationError) as caught:
        encoding_of("")
    assert ("$", "empty") == (caught.value.errors[0].path, caught.value.errors[0].code)


@pytest.mark.parametrize("value", [None, b"Hello", 42, ["Hello"]])
def test_non_text_is_rejected(value):
    """Only a str can be counted; bytes are not decoded on a guess."""
    for function in (segments, encoding_of):
        with pytest.raises(ValidationError) as caught:
            function(value)
        assert ("$", "type") == (caught.value.errors[0].path, caught.value.errors[0].code)
        assert isinstance(caught.value, ValueError)


def test_lone_surrogate_is_rejected():
    """A lone surrogate cannot be sent (no UTF-16 or UTF-8 form)."""
    with pytest.raises(ValidationError) as caught:
        segments("Hi \ud83d")
    assert ("$", "invalid_unicode") == (caught.value.errors[0].path, caught.value.errors[0].code)


def test_import_is_light():
    """Importing the SMS module pulls in no HTTP client, database or test library."""
    code = "import sys, json, omnichannel.channels.sms; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    assert [] == [m for m in ("httpx", "sqlite3", "duckdb", "hypothesis") if m in loaded]


# --- properties -------------------------------------------------------------------------------

BASIC = st.sampled_from(sorted(REF_BASIC))
EXTENSION = st.sampled_from(sorted(REF_EXTENSION))
BMP_NON_GSM = st.one_of(
    st.sampled_from(["’", "ж", "`", "\t", "ç", "á", "…", "\u00a0", "Α", "中", "\u200d"]),
    st.characters(max_codepoint=0xFFFF, exclude_categories=("Cs",)).filter(
        lambda c: c not in REF_GSM
    ),
)
SUPPLEMENTARY = st.one_of(
    st.sampled_from([GRIN, "\U0001f1fa", "\U0001f468", "\U00020000"]),
    st.characters(min_codepoint=0x10000),
)
NON_GSM = st.one_of(BMP_NON_GSM, SUPPLEMENTARY)
GSM_MIXES = [BASIC, st.one_of(BASIC, EXTENSION), st.one_of(BASIC, EXTENSION, EXTENSION, EXTENSION)]
UCS_MIXES = [
    st.one_of(BASIC, EXTENSION, BMP_NON_GSM, SUPPLEMENTARY),
    st.one_of(BMP_NON_GSM, SUPPLEMENTARY),
    st.one_of(BASIC, SUPPLEMENTARY),
    st.one_of(BASIC, BASIC, BASIC, BMP_NON_GSM),
]
# Character counts near where units cross 70 / 134 / 160 / 306 / 459, or a part fills up.
NEAR_BOUNDARIES = [
    *range(64, 82),
    *range(130, 138),
    *range(150, 164),
    *range(300, 310),
    *range(455, 462),
]


@st.composite
def sms_texts(draw, *, encodings=("GSM-7", "UCS-2")):
    """Texts of GSM characters, or a mix with at least one non-GSM character."""
    encoding = draw(st.sampled_from(encodings))
    alphabet = draw(st.sampled_from(GSM_MIXES if encoding == "GSM-7" else UCS_MIXES))
    size = draw(st.one_of(st.sampled_from(NEAR_BOUNDARIES), st.integers(1, 480)))
    chars = draw(st.lists(alphabet, min_size=size, max_size=size))
    if encoding == "UCS-2" and all(c in REF_GSM for c in chars):
        at = draw(st.integers(0, len(chars)))
        chars.insert(at, draw(NON_GSM))
    return "".join(chars)


@settings(max_examples=300)
@given(text=sms_texts())
def test_matches_reference_packer(text):
    """Encoding, units, count and every part equal the per-character reference."""
    found = segments(text)
    assert reference(text) == (found.encoding, found.units, found.segments, list(found.parts))
    assert encoding_of(text) == found.encoding


@given(text=sms_texts())
def test_parts_concatenate_back(text):
    """Nothing is lost, added or reordered between parts."""
    assert text == "".join(segments(text).parts)


@given(text=sms_texts())
def test_parts_fit_their_limit(text):
    """A single segment fits 160 / 70; otherwise every part fits 153 / 67 and count == parts."""
    found = segments(text)
    sizes = [unit_size(p, found.encoding) for p in found.parts]
    assert found.units == sum(sizes)
    assert all(sizes)
    if found.segments == 1:
        assert [found.units] == sizes
        assert found.units <= SINGLE_LIMITS[found.encoding]
    else:
        assert found.segments == len(found.parts)
        assert found.units > SINGLE_LIMITS[found.encoding]
        assert max(sizes) <= PART_LIMITS[found.encoding]
        # greedy: the next part's first character did not fit in the part before it
        for part, following in itertools.pairwise(found.parts):
            assert unit_size(part + following[0], found.encoding) > PART_LIMITS[found.encoding]


@given(text=sms_texts(encodings=("GSM-7",)), char=NON_GSM, data=st.data())
def test_one_non_gsm_character_switches_everything(text, char, data):
    """Insert one non-GSM character anywhere and the whole message is UCS-2."""
    assert "GSM-7" == segments(text).encoding
    at = data.draw(st.integers(0, len(text)))
    found = segments(text[:at] + char + text[at:])
    assert ("UCS-2", (char,)) == (found.encoding, found.non_gsm)
    assert len(text) + (2 if ord(char) > 0xFFFF else 1) == found.units


@given(text=sms_texts(), more=sms_texts())
def test_appending_never_reduces_the_count(text, more):
    """A longer message never costs fewer segments, even when it switches to UCS-2."""
    assert segments(text + more).segments >= segments(text).segments
    assert segments(text + more[:1]).segments >= segments(text).segments
