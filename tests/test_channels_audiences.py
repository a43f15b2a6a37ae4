"""Ads audiences: hashing against shared/conformance/audience-hashing/RULES.md, and the Meta and
Google adapters against a real HTTP server answering like them."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import io
import re
import unicodedata
from pathlib import Path

import pendulum
import phonenumbers
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from omnichannel.channels import Envelope, Outcome, Registry
from omnichannel.channels.audiences import (
    EMPTY_SHA256,
    PLATFORMS,
    GoogleCustomerMatchAdapter,
    MetaAudienceAdapter,
    audience_rows,
    hash_identifier,
    normalize_identifier,
)
from omnichannel.errors import ValidationError
from omnichannel.models import Identity, Profile
from omnichannel.personalization import RenderedAds
from provider_server import Reply, provider_server, scripted
from support import conformance_dir

HEX64 = re.compile(r"[0-9a-f]{64}")


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def error_of(call) -> tuple[str, str]:
    with pytest.raises(ValidationError) as caught:
        call()
    problem = caught.value.errors[0]
    return problem.path, problem.code


# --- RULES.md, read at test time ---------------------------------------------------------


def rules_sections() -> dict[str, str]:
    """RULES.md split by its ``## N.`` headings (key: the number)."""
    text = (conformance_dir("audience-hashing") / "RULES.md").read_text(encoding="utf-8")
    parts = re.split(r"^## (\d+)\.", text, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def table_rows(section: str) -> list[list[str]]:
    """The body rows of the markdown tables in a section (header and rule lines left out)."""
    rows, previous = [], ""
    for line in section.splitlines():
        if line.startswith("|") and not re.fullmatch(r"\|[\s|:-]+\|", line):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if previous.startswith("|"):  # not the header (the first line of a table)
                rows.append(cells)
        previous = line if line.startswith("|") else ""
    return [r for r in rows if not all(set(c) <= set("-: ") for c in r)]


def cell(text: str) -> tuple[str, str | None]:
    """A cell's value (in backticks) and region (``US `...``` or ``(dialled from GB)``)."""
    value = re.search(r"`([^`]+)`", text)
    assert value is not None, text
    region = re.match(r"([A-Z]{2}) `", text) or re.search(r"dialled from ([A-Z]{2})", text)
    return value.group(1), region.group(1) if region else None


def kind_of(value: str, region: str | None) -> str:
    if "@" in value:
        return "email"
    if region or re.fullmatch(r"[+\d][\d\s()+-]*", value):
        return "phone"
    return "first_name"


def meta_triples() -> list[tuple[str, str | None, str, str]]:
    """Section 2: Meta's input -> normalised -> SHA-256 examples."""
    found = []
    for row in table_rows(rules_sections()["2"]):
        if len(row) == 3 and HEX64.fullmatch(row[2].strip("`")):
            value, region = cell(row[0])
            found.append((value, region, cell(row[1])[0], row[2].strip("`")))
    return found


ARROW = re.compile(r"(?:\b([A-Z]{2}) )?`([^`]+)` → `([^`]+)`")


def arrow_examples() -> list[tuple[str, str, str | None, str]]:
    """``input`` → ``normalised`` examples in prose: section 1 (Meta's) and section 3 (Google's)."""
    sections = rules_sections()
    found = []
    for number, platform in (("1", "meta"), ("3", "google")):
        for region, value, normalised in ARROW.findall(sections[number]):
            found.append((platform, value, region or None, normalised))
    return found


def differences() -> list[tuple[str, str | None, str, str]]:
    """Section 4: input, region, Meta's and Google's normalised forms."""
    found = []
    for row in table_rows(rules_sections()["4"]):
        if len(row) == 3 and "`" in row[0]:
            value, region = cell(row[0])
            found.append((value, region, cell(row[1])[0], cell(row[2])[0]))
    return found


def other_platforms() -> list[tuple[str, str | None, str]]:
    """Section 5: normalised value, the raw input when given, the full SHA-256."""
    found = []
    for row in table_rows(rules_sections()["5"]):
        if len(row) == 3 and "`" in row[1]:
            values = re.findall(r"`([^`]+)`", row[1])
            digests = re.findall(r"[0-9a-f]{64}", row[2])
            found.append((values[0], values[1] if len(values) > 1 else None, digests[-1]))
    return found


def test_rules_md_parses_into_every_example():
    """The parser finds every example RULES.md holds, so no case drops out silently."""
    assert 5 == len(meta_triples())
    assert 4 == len(arrow_examples())
    assert 6 == len(differences())
    assert 5 == len(other_platforms())


def test_rules_md_meta_triples():
    """Meta's published triples: our normal form and digest, and the digest of that form."""
    for value, region, normalised, digest in meta_triples():
        kind = kind_of(value, region)
        assert normalised == normalize_identifier(value, kind, "meta", default_region=region)
        assert digest == hash_identifier(value, kind, "meta", default_region=region)
        assert digest == sha(normalised)


def test_rules_md_prose_examples():
    """The ``input → normalised`` examples of sections 1 (Meta) and 3 (Google)."""
    for platform, value, region, normalised in arrow_examples():
        kind = kind_of(value, region)
        assert normalised == normalize_identifier(value, kind, platform, default_region=region)
        assert sha(normalised) == hash_identifier(value, kind, platform, default_region=region)


def test_rules_md_differences_between_meta_and_google():
    """Section 4: each input normalised both ways; phone digests differ by the '+'."""
    for value, region, meta, google in differences():
        kind = kind_of(value, region)
        assert meta == normalize_identifier(value, kind, "meta", default_region=region)
        assert google == normalize_identifier(value, kind, "google", default_region=region)
        meta_digest = hash_identifier(value, kind, "meta", default_region=region)
        google_digest = hash_identifier(value, kind, "google", default_region=region)
        assert (meta_digest == google_digest) == (meta == google)


def test_rules_md_other_platforms_digests():
    """Section 5's published digests check the SHA-256/hex step (and Meta's phone form)."""
    for normalised, raw, digest in other_platforms():
        assert digest == sha(normalised)
        if raw is not None:  # "448444124653 (from +44 844 412 4653)": Meta's digits-only form
            assert digest == hash_identifier(raw, "phone", "meta")
        if "@" in normalised:
            assert digest == hash_identifier(normalised.upper(), "email", "meta")


def test_rules_md_empty_value_is_never_hashed():
    """Section 1: the empty string's digest is the one RULES.md prints, and never emitted."""
    assert EMPTY_SHA256 in rules_sections()["1"]
    assert EMPTY_SHA256 == sha("")
    assert ("$.value", "empty") == error_of(lambda: hash_identifier("  ", "email", "meta"))
    assert ("$.value", "empty") == error_of(lambda: hash_identifier(EMPTY_SHA256, "email", "meta"))


# The same examples written out, so they hold where the shared folder is absent (an sdist).
RULES_CASES = [
    ("John_Smith@gmail.com", "email", "meta", None, "john_smith@gmail.com"),
    ("(650)555-1212", "phone", "meta", "US", "16505551212"),
    ("Mary", "first_name", "meta", None, "mary"),
    ("정", "first_name", "meta", None, "정"),
    ("Valéry", "first_name", "meta", None, "valéry"),
    ("Vale\u0301ry", "first_name", "meta", None, "valéry"),  # decomposed input, NFC output
    (
        "cloudy.sanfrancisco+shopping@gmail.com",
        "email",
        "google",
        None,
        "cloudysanfrancisco@gmail.com",
    ),
    ("user.name+NYC@Example.com", "email", "google", None, "user.name+nyc@example.com"),
    ("(800)555-0100", "phone", "google", "US", "+18005550100"),
    ("+12125650000", "phone", "google", None, "+12125650000"),
    ("+442070313000", "phone", "google", None, "+442070313000"),
    ("Peter.Gibbons@gmail.com", "email", "meta", None, "peter.gibbons@gmail.com"),
    ("Peter.Gibbons@gmail.com", "email", "google", None, "petergibbons@gmail.com"),
    ("J.O.H.N+promo+2024@Gmail.Com", "email", "meta", None, "j.o.h.n+promo+2024@gmail.com"),
    ("J.O.H.N+promo+2024@Gmail.Com", "email", "google", None, "john@gmail.com"),
    ("first.last+tag@outlook.com", "email", "meta", None, "first.last+tag@outlook.com"),
    ("first.last+tag@outlook.com", "email", "google", None, "first.last+tag@outlook.com"),
    ("(650)555-1212", "phone", "google", "US", "+16505551212"),
    ("020 7946 0018", "phone", "meta", "GB", "442079460018"),
    ("020 7946 0018", "phone", "google", "GB", "+442079460018"),
    ("0044 20 7946 0018", "phone", "meta", "GB", "442079460018"),
    ("0044 20 7946 0018", "phone", "google", "GB", "+442079460018"),
    ("011 44 20 7946 0018", "phone", "google", "US", "+442079460018"),  # NANP's prefix
    ("+44 844 412 4653", "phone", "meta", None, "448444124653"),
    ("+374 93 828222", "phone", "meta", None, "37493828222"),
    # The older Google variants (section 3's bullets) and DV360.
    ("J.O.H.N+promo@Gmail.Com", "email", "google-ads", None, "j.o.h.n+promo@gmail.com"),
    ("J.O.H.N+promo@Gmail.Com", "email", "google-web", None, "john+promo@gmail.com"),
    ("J.O.H.N+promo@googlemail.com", "email", "google-web", None, "john+promo@googlemail.com"),
    (" a b@Example.com ", "email", "dv360", None, "ab@example.com"),
    (" a b@Example.com ", "email", "google", None, "ab@example.com"),
    ("Mary Ann", "first_name", "dv360", None, "maryann"),
    # Names: no punctuation; Google: no prefix (Mrs.) or suffix (Jr.).
    ("O'Brien", "last_name", "meta", None, "obrien"),
    ("Mrs. Jane", "first_name", "google", None, "jane"),
    ("Smith, Jr.", "last_name", "google", None, "smith"),
    ("Mrs. Jane", "first_name", "meta", None, "mrs jane"),
]


@pytest.mark.parametrize(("value", "kind", "platform", "region", "normalised"), RULES_CASES)
def test_rules_cases_written_out(value, kind, platform, region, normalised):
    assert normalised == normalize_identifier(value, kind, platform, default_region=region)
    assert sha(normalised) == hash_identifier(value, kind, platform, default_region=region)


@pytest.mark.parametrize(
    ("value", "kind", "digest"),
    [
        (
            "John_Smith@gmail.com",
            "email",
            "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f",
        ),
        (
            "(650)555-1212",
            "phone",
            "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176",
        ),
        ("Mary", "fn", "6915771be1c5aa0c886870b6951b03d7eafc121fea0e80a5ea83beb7c449f4ec"),
        ("정", "fn", "8fa8cd9c440be61d0151429310034083132b35975c4bea67fdd74158eb51db14"),
        ("Valéry", "ln", "08e1996b5dd49e62a4b4c010d44e4345592a863bb9f8e3976219bac29417149c"),
    ],
)
def test_meta_published_digests_written_out(value, kind, digest):
    assert digest == hash_identifier(value, kind, "meta", default_region="US")


# --- validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "where"),
    [
        (lambda: hash_identifier("a@b.co", "fax", "meta"), ("$.kind", "unknown")),
        (lambda: hash_identifier("a@b.co", 3, "meta"), ("$.kind", "type")),
        (lambda: hash_identifier("a@b.co", "email", "tiktok"), ("$.platform", "unknown")),
        (lambda: hash_identifier("a@b.co", "email", None), ("$.platform", "type")),
        (lambda: hash_identifier(42, "email", "meta"), ("$.value", "type")),
        (lambda: hash_identifier("", "email", "google"), ("$.value", "empty")),
        (lambda: hash_identifier("not-an-address", "email", "meta"), ("$.value", "invalid")),
        (lambda: hash_identifier("a@localhost", "email", "meta"), ("$.value", "invalid")),
        (lambda: hash_identifier("a b@x.com", "email", "meta"), ("$.value", "invalid")),
        (lambda: hash_identifier("a@b@x.com", "email", "meta"), ("$.value", "invalid")),
        (lambda: hash_identifier("+tag@gmail.com", "email", "google"), ("$.value", "invalid")),
        (lambda: hash_identifier("a" * 250 + "@x.com", "email", "meta"), ("$.value", "too_long")),
        (lambda: hash_identifier("(650)555-1212", "phone", "meta"), ("$.value", "no_country_code")),
        (
            lambda: hash_identifier("0044 20 7946 0018", "phone", "google"),
            ("$.value", "no_country_code"),
        ),
        (lambda: hash_identifier("+1 555", "phone", "meta"), ("$.value", "invalid")),
        (lambda: hash_identifier("+999 1234567", "phone", "meta"), ("$.value", "invalid")),
        (lambda: hash_identifier("...", "first_name", "meta"), ("$.value", "empty")),
        (
            lambda: hash_identifier("1", "phone", "meta", default_region="XX"),
            ("$.default_region", "invalid"),
        ),
        (
            lambda: hash_identifier("1", "phone", "meta", default_region=1),
            ("$.default_region", "type"),
        ),
        # A pre-hashed value is still checked for kind and platform.
        (lambda: hash_identifier("a" * 64, "fax", "meta"), ("$.kind", "unknown")),
    ],
)
def test_validation_names_the_field(call, where):
    assert where == error_of(call)


def test_pre_hashed_values_pass_through_once():
    digest = hash_identifier("ann@example.com", "email", "meta")
    assert digest == hash_identifier(f"  {digest.upper()} ", "email", "meta")
    assert digest == hash_identifier(digest, "phone", "google")


# --- properties --------------------------------------------------------------------------

WHITESPACE = st.text(st.sampled_from(" \t\n\u00a0"), max_size=3)
LOCAL = st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,15}", fullmatch=True)
DOMAIN = st.from_regex(r"[a-z0-9]{1,10}\.[a-z]{2,6}", fullmatch=True)


def recase(text: str, flips: list[bool]) -> str:
    padded = flips + [False] * len(text)
    return "".join(
        c.upper() if flip else c for c, flip in zip(text, padded[: len(text)], strict=True)
    )


@given(
    local=LOCAL,
    domain=st.one_of(DOMAIN, st.sampled_from(["gmail.com", "googlemail.com"])),
    flips=st.lists(st.booleans(), max_size=40),
    before=WHITESPACE,
    after=WHITESPACE,
    platform=st.sampled_from(PLATFORMS),
)
def test_email_digest_ignores_case_and_surrounding_space(
    local, domain, *, flips, before, after, platform
):
    address = f"{local}@{domain}"
    try:
        expected = hash_identifier(address, "email", platform)
    except ValidationError:
        assume(condition=False)  # "+x@gmail.com" has nothing left for Google
    variant = before + recase(address, flips) + after
    assert expected == hash_identifier(variant, "email", platform)


@given(
    local=st.from_regex(r"[a-z0-9]{1,10}", fullmatch=True),
    dots=st.lists(st.integers(0, 10), max_size=4),
    tag=st.from_regex(r"[a-z0-9.+]{0,8}", fullmatch=True),
    domain=st.sampled_from(["gmail.com", "googlemail.com"]),
)
def test_google_ignores_gmail_dots_and_plus_tags(local, dots, tag, domain):
    dotted = local
    for n in sorted(dots, reverse=True):
        dotted = dotted[:n] + "." + dotted[n:]
    variant = f"{dotted}+{tag}@{domain}"
    assert hash_identifier(f"{local}@{domain}", "email", "google") == hash_identifier(
        variant, "email", "google"
    )


def _examples() -> list[tuple[str, phonenumbers.PhoneNumber]]:
    found = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        number = phonenumbers.example_number(region)
        if number is None:
            continue
        national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        # Only numbers whose national form reads back (a few need carrier codes).
        if phonenumbers.parse(national, region) == number:
            found.append((region, number))
    return found


PHONE_EXAMPLES = _examples()


@given(
    example=st.sampled_from(PHONE_EXAMPLES),
    calling_from=st.sampled_from(["GB", "US", "DE", "JP", "FR"]),
    before=WHITESPACE,
    after=WHITESPACE,
    platform=st.sampled_from(PLATFORMS),
)
def test_phone_digest_ignores_formatting(example, calling_from, before, after, platform):
    region, number = example
    fmt = phonenumbers.PhoneNumberFormat
    e164 = phonenumbers.format_number(number, fmt.E164)
    expected = hash_identifier(e164, "phone", platform)
    assert expected == sha(e164 if platform != "meta" else e164[1:])
    variants = [
        (phonenumbers.format_number(number, fmt.INTERNATIONAL), None),
        (phonenumbers.format_number(number, fmt.RFC3966), None),
        (phonenumbers.format_number(number, fmt.NATIONAL), region),
        (phonenumbers.format_out_of_country_calling_number(number, calling_from), calling_from),
    ]
    for text, default_region in variants:
        got = hash_identifier(
            before + text + after, "phone", platform, default_region=default_region
        )
        assert expected == got, text


NAME_LETTERS = st.characters(categories=["Lu", "Ll"]).filter(
    lambda c: c.upper().lower() == c.lower() and len(c.upper()) == 1
)


@given(
    name=st.text(NAME_LETTERS, min_size=1, max_size=12),
    before=WHITESPACE,
    after=WHITESPACE,
    platform=st.sampled_from(PLATFORMS),
    kind=st.sampled_from(["first_name", "last_name"]),
)
def test_name_digest_ignores_case_space_and_unicode_form(name, before, after, platform, kind):
    expected = hash_identifier(name, kind, platform)
    for variant in (name.upper(), name.lower(), unicodedata.normalize("NFD", name)):
        assert expected == hash_identifier(before + variant + after, kind, platform)


@given(
    value=st.text(max_size=30),
    kind=st.sampled_from(["email", "phone", "first_name", "last_name", "em", "ph"]),
    platform=st.sampled_from(PLATFORMS),
    region=st.sampled_from([None, "US", "GB"]),
)
def test_any_text_gives_64_lowercase_hex_or_a_value_error(value, kind, platform, region):
    try:
        digest = hash_identifier(value, kind, platform, default_region=region)
    except ValidationError as error:
        path = error.errors[0].path
        assert "$.value" == path
        return
    assert HEX64.fullmatch(digest)
    assert digest != EMPTY_SHA256
    assert digest == hash_identifier(digest, kind, platform)  # never hashed twice


# --- audience_rows -----------------------------------------------------------------------


def test_audience_rows_builds_multi_key_rows():
    people = [
        {"email": ["Ann@Example.com", "ann@work.example"], "phone": "+1 415 555 0134"},
        {"phone": ["(415) 555-0199", "bad"]},
        {"email": "not an address"},
        {"first_name": "Bob"},  # a kind not asked for is ignored
    ]
    found = audience_rows(people, "meta", ["email", "phone"], default_region="US")
    assert ["EMAIL", "PHONE"] == found.meta_schema
    assert (
        (hash_identifier("ann@example.com", "email", "meta"), sha("14155550134")),
        (hash_identifier("ann@work.example", "email", "meta"), ""),
        ("", sha("14155550199")),
    ) == found.rows
    assert (0, 0, 1) == found.people
    assert [(1, "phone", "invalid"), (2, "email", "invalid")] == [
        (s.person, s.kind, s.code) for s in found.skipped
    ]
    assert all("not an address" not in s.message for s in found.skipped)  # no PII kept


def test_audience_rows_reads_profiles_and_dedupes_by_normal_form():
    at = pendulum.datetime(2024, 3, 5)
    profile = Profile(
        id="p1",
        created_at=at,
        updated_at=at,
        identities={
            Identity(kind="email", value="jo.hn@gmail.com"),
            Identity(kind="email", value="john@gmail.com"),
        },
        traits={"firstName": "Mrs. Jane", "last_name": "Doe"},
    )
    found = audience_rows([profile], "google", ("email", "first_name", "ln"))
    assert ("email", "first_name", "last_name") == found.kinds
    # The two spellings are one Gmail address under Google's rules: one row.
    assert (
        (hash_identifier("john@gmail.com", "email", "google"), sha("jane"), sha("doe")),
    ) == found.rows


@pytest.mark.parametrize(
    ("call", "where"),
    [
        (lambda: audience_rows("ann@example.com", "meta"), ("$.people", "type")),
        (lambda: audience_rows({"email": "a@b.co"}, "meta"), ("$.people", "type")),
        (lambda: audience_rows([{}, 3], "meta"), ("$.people[1]", "type")),
        (lambda: audience_rows([], "meta", ["email", "fax"]), ("$.kinds[1]", "unknown")),
        (lambda: audience_rows([], "meta", "email"), ("$.kinds", "type")),
        (lambda: audience_rows([], "meta", []), ("$.kinds", "type")),
        (lambda: audience_rows([], "meta", ["email", "em", "x"]), ("$.kinds[2]", "unknown")),
        (lambda: audience_rows([], "bing"), ("$.platform", "unknown")),
        (lambda: audience_rows([], "meta", default_region="Mars"), ("$.default_region", "invalid")),
    ],
)
def test_audience_rows_validation(call, where):
    assert where == error_of(call)


# --- adapters: a real server answering like Meta and Google ------------------------------


def ads(n: int, to: str = "123", action: str = "add", **identifiers) -> Envelope:
    identifiers = {k: tuple(v) if isinstance(v, list) else (v,) for k, v in identifiers.items()}
    return Envelope(
        id=f"o{n}",
        idempotency_key=f"k{n}",
        channel="ads",
        to=to,
        content=RenderedAds(audience=to, action=action, identifiers=identifiers),
        profile_id=f"p{n}",
        message="retarget",
    )


def run(adapter, batch):
    async def go():
        try:
            return await adapter.send(batch)
        finally:
            await adapter.aclose()

    return asyncio.run(go())


@pytest.fixture
def server():
    with provider_server() as started:
        yield started


META_OK = Reply(json={"audience_id": "123", "session_id": "9876", "num_received": 3})
USERS = "/v25.0/123/users"


def test_meta_batches_envelopes_into_one_request_with_our_hashes(server):
    server.route("POST", USERS, META_OK)
    batch = [
        ads(1, email="Ann@Example.com", phone="+14155550134"),
        ads(2, email=["bob@example.com", "b.o.b@gmail.com"]),
        ads(3, phone="+442079460018"),
    ]
    receipts = run(MetaAudienceAdapter("tok", api_base=server.url), batch)
    assert [Outcome.SENT] * 3 == [r.outcome for r in receipts]
    assert {"9876"} == {r.provider_id for r in receipts}
    [request] = server.requests
    assert ("POST", USERS) == (request.method, request.path)
    body = request.json()
    assert "tok" == body["access_token"]
    assert "appsecret_proof" not in body

    def h(value, kind):
        return hash_identifier(value, kind, "meta")

    assert {
        "schema": ["EMAIL", "PHONE"],
        "data": [
            [h("ann@example.com", "email"), h("+14155550134", "phone")],
            [h("bob@example.com", "email"), ""],
            [h("b.o.b@gmail.com", "email"), ""],  # Meta keeps Gmail's dots
            ["", h("+442079460018", "phone")],
        ],
    } == body["payload"]
    expected = audience_rows([e.content.identifiers for e in batch], "meta")
    assert [list(r) for r in expected.rows] == body["payload"]["data"]


def test_meta_removals_are_deletes_and_groups_keep_receipt_order(server):
    server.route("POST", USERS, META_OK)
    server.route("DELETE", USERS, Reply(json={"audience_id": "123", "session_id": "del"}))
    server.route("POST", "/v25.0/456/users", Reply(status=400, json={"error": {"code": 100}}))
    batch = [
        ads(1, action="remove", email="gone@example.com"),
        ads(2, email="kept@example.com"),
        ads(3, to="456", email="other@example.com"),
        ads(4, action="remove", phone="+14155550199"),
    ]
    receipts = run(MetaAudienceAdapter("tok", api_base=server.url), batch)
    assert [Outcome.SENT, Outcome.SENT, Outcome.PERMANENT, Outcome.SENT] == [
        r.outcome for r in receipts
    ]
    assert ["del", "9876", None, "del"] == [r.provider_id for r in receipts]
    deletes = [r for r in server.requests if r.method == "DELETE"]
    assert 1 == len(deletes)
    assert {
        "schema": ["EMAIL", "PHONE"],
        "data": [
            [hash_identifier("gone@example.com", "email", "meta"), ""],
            ["", hash_identifier("+14155550199", "phone", "meta")],
        ],
    } == deletes[0].json()["payload"]
    assert 3 == len(server.requests)


def test_meta_splits_requests_at_the_row_limit(server):
    server.route("POST", USERS, META_OK)
    batch = [ads(n, email=f"u{n}@example.com") for n in range(5)]
    adapter = MetaAudienceAdapter("tok", api_base=server.url, rows_per_request=2)
    assert [Outcome.SENT] * 5 == [r.outcome for r in run(adapter, batch)]
    assert [2, 2, 1] == [len(r.json()["payload"]["data"]) for r in server.requests]
    assert [["EMAIL"]] * 3 == [r.json()["payload"]["schema"] for r in server.requests]


def test_meta_appsecret_proof(server):
    server.route("POST", USERS, META_OK)
    shared = "s3"
    run(
        MetaAudienceAdapter("tok", app_secret=shared, api_base=server.url), [ads(1, email="a@b.co")]
    )
    proof = hmac.new(b"s3", b"tok", hashlib.sha256).hexdigest()
    assert proof == server.requests[0].json()["appsecret_proof"]


def meta_error(code: int, subcode: int | None = None, status: int = 400, **headers) -> Reply:
    error = {"message": f"(#{code}) nope", "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    return Reply(status=status, json={"error": error}, headers=headers)


@pytest.mark.parametrize(
    ("reply", "outcome", "code"),
    [
        (meta_error(4), Outcome.RETRY, "4"),
        (meta_error(17), Outcome.RETRY, "17"),
        (meta_error(32, status=403), Outcome.RETRY, "32"),
        (meta_error(613), Outcome.RETRY, "613"),
        (meta_error(80003), Outcome.RETRY, "80003"),
        (meta_error(190, 463, status=401), Outcome.AUTH, "190/463"),
        (meta_error(200, 1870034, status=403), Outcome.AUTH, "200/1870034"),
        (meta_error(200, 1870047), Outcome.PERMANENT, "200/1870047"),
        (meta_error(100, 1713230), Outcome.PERMANENT, "100/1713230"),
        (meta_error(2, status=500), Outcome.RETRY_AMBIGUOUS, "2"),
        (meta_error(2650), Outcome.PERMANENT, "2650"),
        (Reply(status=503, text="down"), Outcome.RETRY, None),
        (Reply(status=500, text="oops"), Outcome.RETRY_AMBIGUOUS, None),
        (Reply(status=200, json={"error": {"code": 99999}}), Outcome.RETRY_AMBIGUOUS, "99999"),
    ],
)
def test_meta_classifies_documented_error_codes(server, reply, outcome, code):
    server.route("POST", USERS, reply)
    [receipt] = run(MetaAudienceAdapter("tok", api_base=server.url), [ads(1, email="a@b.co")])
    assert (outcome, code) == (receipt.outcome, receipt.code)
    assert reply.status == receipt.status


def test_meta_rate_limit_wait_comes_from_the_usage_headers(server):
    usage = '{"1234": [{"type": "custom_audience", "call_count": 100, "estimated_time_to_regain_access": 5}]}'
    server.route(
        "POST",
        USERS,
        scripted(
            [
                meta_error(80003, **{"X-Business-Use-Case-Usage": usage}),
                meta_error(17, **{"Retry-After": "42"}),
                meta_error(4, **{"X-Ad-Account-Usage": '{"reset_time_duration": 90}'}),
            ]
        ),
    )
    adapter = MetaAudienceAdapter("tok", api_base=server.url)

    async def three():
        try:
            return [(await adapter.send([ads(n, email="a@b.co")]))[0] for n in range(3)]
        finally:
            await adapter.aclose()

    assert [300.0, 42.0, 90.0] == [r.retry_after for r in asyncio.run(three())]


def test_meta_unreadable_usage_headers_give_no_wait(server):
    headers = {"X-Business-Use-Case-Usage": "not json", "X-Ad-Account-Usage": "{bad"}
    server.route("POST", USERS, meta_error(80003, **headers))
    [receipt] = run(MetaAudienceAdapter("tok", api_base=server.url), [ads(1, email="a@b.co")])
    assert (Outcome.RETRY, None) == (receipt.outcome, receipt.retry_after)


def test_meta_refuses_locally_what_cannot_be_sent(server):
    server.route("POST", USERS, META_OK)
    wrong = Envelope(
        id="x",
        idempotency_key="x",
        channel="ads",
        to="123",
        content={"a": 1},
        profile_id="p",
        message="m",
    )
    batch = [
        ads(1, email="not an address"),
        ads(2),
        ads(3, to="act_123", email="a@b.co"),
        wrong,
        ads(4, action="replace", email="a@b.co"),
        ads(5, email="ok@b.co", phone="12"),
    ]
    receipts = run(MetaAudienceAdapter("tok", api_base=server.url), batch)
    assert [
        (Outcome.PERMANENT, "no_identifiers"),
        (Outcome.PERMANENT, "no_identifiers"),
        (Outcome.PERMANENT, "bad_audience"),
        (Outcome.PERMANENT, "bad_content"),
        (Outcome.PERMANENT, "bad_action"),
        (Outcome.SENT, None),
    ] == [(r.outcome, r.code) for r in receipts]
    assert "not an address" not in receipts[0].detail
    [request] = server.requests  # only the last envelope went out, with its valid e-mail only
    assert [[hash_identifier("ok@b.co", "email", "meta")]] == request.json()["payload"]["data"]


def test_meta_dropped_connection_is_ambiguous(server):
    server.route("POST", USERS, Reply(drop=True))
    [receipt] = run(MetaAudienceAdapter("tok", api_base=server.url), [ads(1, email="a@b.co")])
    assert Outcome.RETRY_AMBIGUOUS == receipt.outcome


def test_meta_refused_connection_is_retry():
    adapter = MetaAudienceAdapter("tok", api_base="http://127.0.0.1:9")
    [receipt] = run(adapter, [ads(1, email="a@b.co")])
    assert Outcome.RETRY == receipt.outcome


@pytest.mark.parametrize(
    ("kwargs", "where"),
    [
        ({"access_token": ""}, ("$.access_token", "required")),
        ({"access_token": "t", "api_base": "ftp://x"}, ("$.api_base", "invalid")),
        ({"access_token": "t", "version": "25"}, ("$.version", "invalid")),
        ({"access_token": "t", "app_secret": 5}, ("$.app_secret", "type")),
        ({"access_token": "t", "rows_per_request": 10_001}, ("$.rows_per_request", "out_of_range")),
        ({"access_token": "t", "rows_per_request": True}, ("$.rows_per_request", "out_of_range")),
        ({"access_token": "t", "default_region": "ZZ"}, ("$.default_region", "invalid")),
    ],
)
def test_meta_constructor_validation(kwargs, where):
    token = kwargs.pop("access_token")
    assert where == error_of(lambda: MetaAudienceAdapter(token, **kwargs))


def test_meta_from_url_and_registry(server):
    server.route("POST", USERS, META_OK)
    host = server.url.partition("://")[2]
    registry = Registry.discover()
    assert MetaAudienceAdapter is registry.load("meta-audience")
    adapter = registry.create(f"meta-audience+http://{host}?access_token=tok&version=v25.0")
    assert isinstance(adapter, MetaAudienceAdapter)
    assert [Outcome.SENT] == [r.outcome for r in run(adapter, [ads(1, email="a@b.co")])]
    assert "tok" == server.requests[0].json()["access_token"]
    default = MetaAudienceAdapter.from_url("meta-audience://?access_token=t")
    assert "https://graph.facebook.com" == default.api_base
    asyncio.run(default.aclose())
    assert ("$.url", "required") == error_of(
        lambda: MetaAudienceAdapter.from_url("meta-audience://")
    )
    assert ("$.url", "invalid") == error_of(lambda: MetaAudienceAdapter.from_url("meta://x"))


# --- Google Customer Match ---------------------------------------------------------------

CREATE = "/v26/customers/1234567890/offlineUserDataJobs:create"
JOB = "customers/1234567890/offlineUserDataJobs/77"
ADD_OPS = f"/v26/{JOB}:addOperations"
RUN = f"/v26/{JOB}:run"


def google_routes(server, *, create=None, add=None, run_reply=None):
    server.route("POST", CREATE, create or Reply(json={"resourceName": JOB}))
    server.route("POST", ADD_OPS, add or Reply(json={}))
    server.route(
        "POST", RUN, run_reply or Reply(json={"name": "customers/1234567890/operations/1"})
    )


def google(server, **options) -> GoogleCustomerMatchAdapter:
    options.setdefault("token_provider", lambda: "oauth-token")
    return GoogleCustomerMatchAdapter(
        "123-456-7890", "dev-token", options.pop("token_provider"), api_base=server.url, **options
    )


def paths(server) -> list[str]:
    return [r.path for r in server.requests]


def test_google_creates_adds_and_runs_one_job_with_our_hashes(server):
    google_routes(server)
    batch = [
        ads(1, to="555", email="J.O.H.N+promo@Gmail.com", phone="+14155550134"),
        ads(2, to="555", email=["a@example.com", "b@example.com"]),
        ads(3, to="customers/1234567890/userLists/555", phone="(415) 555-0199"),
    ]
    adapter = google(server, login_customer_id="999-000-1111", default_region="US")
    receipts = run(adapter, batch)
    assert [(Outcome.SENT, JOB)] * 3 == [(r.outcome, r.provider_id) for r in receipts]
    assert [CREATE, ADD_OPS, RUN] == paths(server)
    for request in server.requests:
        assert "dev-token" == request.headers["developer-token"]
        assert "Bearer oauth-token" == request.headers["authorization"]
        assert "9990001111" == request.headers["login-customer-id"]
    assert {
        "job": {
            "type": "CUSTOMER_MATCH_USER_LIST",
            "customerMatchUserListMetadata": {"userList": "customers/1234567890/userLists/555"},
        }
    } == server.requests[0].json()

    def h(value, kind):
        return hash_identifier(value, kind, "google", default_region="US")

    assert {
        "operations": [
            {
                "create": {
                    "userIdentifiers": [
                        {"hashedEmail": h("john@gmail.com", "email")},
                        {"hashedPhoneNumber": h("+14155550134", "phone")},
                    ]
                }
            },
            {
                "create": {
                    "userIdentifiers": [
                        {"hashedEmail": h("a@example.com", "email")},
                        {"hashedEmail": h("b@example.com", "email")},
                    ]
                }
            },
            {"create": {"userIdentifiers": [{"hashedPhoneNumber": sha("+14155550199")}]}},
        ],
        "enablePartialFailure": True,
    } == server.requests[1].json()


def test_google_removals_get_their_own_job(server):
    google_routes(server)
    batch = [
        ads(1, to="555", email="a@example.com"),
        ads(2, to="555", action="remove", email="b@example.com"),
    ]
    consent = {"adUserData": "GRANTED", "adPersonalization": "GRANTED"}
    receipts = run(google(server, consent=consent), batch)
    assert [Outcome.SENT, Outcome.SENT] == [r.outcome for r in receipts]
    assert [CREATE, ADD_OPS, RUN, CREATE, ADD_OPS, RUN] == paths(server)
    assert consent == server.requests[0].json()["job"]["customerMatchUserListMetadata"]["consent"]
    removal = server.requests[4].json()["operations"]
    assert [
        {
            "remove": {
                "userIdentifiers": [
                    {"hashedEmail": hash_identifier("b@example.com", "email", "google")}
                ]
            }
        }
    ] == removal


def test_google_splits_operations_at_the_identifier_limit_and_runs_once(server):
    google_routes(server)
    batch = [
        ads(n, to="555", email=f"u{n}@example.com", phone=f"+1415555{n:04d}") for n in range(3)
    ]
    receipts = run(google(server, identifiers_per_request=4), batch)
    assert [Outcome.SENT] * 3 == [r.outcome for r in receipts]
    assert [CREATE, ADD_OPS, ADD_OPS, RUN] == paths(server)
    assert [2, 1] == [len(r.json()["operations"]) for r in server.requests[1:3]]


def test_google_async_token_provider(server):
    google_routes(server)

    async def token():
        await asyncio.sleep(0)
        return "async-token"

    run(google(server, token_provider=token), [ads(1, to="555", email="a@b.co")])
    assert {"Bearer async-token"} == {r.headers["authorization"] for r in server.requests}


def ads_failure(status: int, grpc: str, category: str, value: str, **details) -> dict:
    error = {"errorCode": {category: value}, "message": f"{value.lower()}"}
    if details:
        error["details"] = details
    return {
        "error": {
            "code": status,
            "message": grpc.lower(),
            "status": grpc,
            "details": [
                {
                    "@type": "type.googleapis.com/google.ads.googleads.v26.errors.GoogleAdsFailure",
                    "errors": [error],
                    "requestId": "req-1",
                }
            ],
        }
    }


def test_google_partial_failure_fails_only_its_operation(server):
    failure = ads_failure(
        400, "INVALID_ARGUMENT", "offlineUserDataJobError", "INVALID_SHA256_FORMAT"
    )
    failure["error"]["details"][0]["errors"][0]["location"] = {
        "fieldPathElements": [{"fieldName": "operations", "index": 1}, {"fieldName": "create"}]
    }
    google_routes(server, add=Reply(json={"partialFailureError": failure["error"]}))
    batch = [ads(n, to="555", email=f"u{n}@example.com") for n in range(3)]
    receipts = run(google(server), batch)
    assert [Outcome.SENT, Outcome.PERMANENT, Outcome.SENT] == [r.outcome for r in receipts]
    assert "offlineUserDataJobError.INVALID_SHA256_FORMAT" == receipts[1].code
    assert [CREATE, ADD_OPS, RUN] == paths(server)


@pytest.mark.parametrize(
    ("reply", "outcome", "code", "wait"),
    [
        (
            Reply(
                status=429,
                json=ads_failure(
                    429,
                    "RESOURCE_EXHAUSTED",
                    "quotaError",
                    "RESOURCE_EXHAUSTED",
                    quotaErrorDetails={"rateScope": "ACCOUNT", "retryDelay": "30s"},
                ),
            ),
            Outcome.RETRY,
            "quotaError.RESOURCE_EXHAUSTED",
            30.0,
        ),
        (
            Reply(
                status=429,
                json=ads_failure(
                    429, "RESOURCE_EXHAUSTED", "quotaError", "RESOURCE_TEMPORARILY_EXHAUSTED"
                ),
                headers={"Retry-After": "7"},
            ),
            Outcome.RETRY,
            "quotaError.RESOURCE_TEMPORARILY_EXHAUSTED",
            7.0,
        ),
        (
            Reply(
                status=401,
                json=ads_failure(
                    401, "UNAUTHENTICATED", "authenticationError", "OAUTH_TOKEN_EXPIRED"
                ),
            ),
            Outcome.AUTH,
            "authenticationError.OAUTH_TOKEN_EXPIRED",
            None,
        ),
        (
            Reply(
                status=403,
                json=ads_failure(
                    403, "PERMISSION_DENIED", "authorizationError", "DEVELOPER_TOKEN_NOT_APPROVED"
                ),
            ),
            Outcome.AUTH,
            "authorizationError.DEVELOPER_TOKEN_NOT_APPROVED",
            None,
        ),
        (
            Reply(
                status=400,
                json=ads_failure(
                    400,
                    "INVALID_ARGUMENT",
                    "offlineUserDataJobError",
                    "CUSTOMER_NOT_ACCEPTED_CUSTOMER_DATA_TERMS",
                ),
            ),
            Outcome.AUTH,
            "offlineUserDataJobError.CUSTOMER_NOT_ACCEPTED_CUSTOMER_DATA_TERMS",
            None,
        ),
        (
            Reply(
                status=400,
                json=ads_failure(
                    400, "INVALID_ARGUMENT", "offlineUserDataJobError", "INVALID_USER_LIST_ID"
                ),
            ),
            Outcome.PERMANENT,
            "offlineUserDataJobError.INVALID_USER_LIST_ID",
            None,
        ),
        (
            Reply(
                status=409,
                json=ads_failure(409, "ABORTED", "databaseError", "CONCURRENT_MODIFICATION"),
            ),
            Outcome.RETRY,
            "databaseError.CONCURRENT_MODIFICATION",
            None,
        ),
        (
            Reply(status=500, json=ads_failure(500, "INTERNAL", "internalError", "INTERNAL_ERROR")),
            Outcome.RETRY_AMBIGUOUS,
            "internalError.INTERNAL_ERROR",
            None,
        ),
        (
            Reply(status=503, json={"error": {"code": 503, "status": "UNAVAILABLE"}}),
            Outcome.RETRY,
            "UNAVAILABLE",
            None,
        ),
        (Reply(status=502, text="bad gateway"), Outcome.RETRY_AMBIGUOUS, None, None),
    ],
)
def test_google_classifies_documented_errors_on_create(server, reply, outcome, code, wait):
    google_routes(server, create=reply)
    receipts = run(
        google(server), [ads(1, to="555", email="a@b.co"), ads(2, to="555", phone="+14155550134")]
    )
    assert [(outcome, code, wait)] * 2 == [(r.outcome, r.code, r.retry_after) for r in receipts]
    assert [CREATE] == paths(server)  # nothing added to a job that was never made


def test_google_throttled_chunk_stops_the_job_without_running_it(server):
    throttled = Reply(
        status=429, json=ads_failure(429, "RESOURCE_EXHAUSTED", "quotaError", "RESOURCE_EXHAUSTED")
    )
    google_routes(server, add=throttled)
    batch = [ads(n, to="555", email=f"u{n}@example.com") for n in range(3)]
    receipts = run(google(server, identifiers_per_request=1), batch)
    assert [Outcome.RETRY] * 3 == [r.outcome for r in receipts]
    assert [CREATE, ADD_OPS] == paths(server)


def test_google_run_failure_is_the_receipt_of_added_operations(server):
    failed_run = Reply(
        status=500, json=ads_failure(500, "INTERNAL", "internalError", "TRANSIENT_ERROR")
    )
    permanent = Reply(
        status=400, json=ads_failure(400, "INVALID_ARGUMENT", "requestError", "INVALID_INPUT")
    )
    google_routes(server, add=scripted([Reply(json={}), permanent]), run_reply=failed_run)
    batch = [ads(n, to="555", email=f"u{n}@example.com") for n in range(2)]
    receipts = run(google(server, identifiers_per_request=1), batch)
    assert [
        (Outcome.RETRY_AMBIGUOUS, "internalError.TRANSIENT_ERROR"),
        (Outcome.PERMANENT, "requestError.INVALID_INPUT"),
    ] == [(r.outcome, r.code) for r in receipts]
    assert [CREATE, ADD_OPS, ADD_OPS, RUN] == paths(server)


def test_google_transport_failures(server):
    google_routes(server, create=Reply(drop=True))
    [receipt] = run(google(server), [ads(1, to="555", email="a@b.co")])
    assert Outcome.RETRY_AMBIGUOUS == receipt.outcome
    refused = GoogleCustomerMatchAdapter("1", "d", lambda: "t", api_base="http://127.0.0.1:9")
    [receipt] = run(refused, [ads(1, to="555", email="a@b.co")])
    assert Outcome.RETRY == receipt.outcome


def test_google_error_without_an_ads_code_falls_back_to_the_rpc_status(server):
    body = {
        "error": {
            "code": 400,
            "status": "FAILED_PRECONDITION",
            "message": "list closed",
            "details": [{"errors": [{"message": "x"}]}],
        }
    }
    google_routes(server, create=Reply(status=400, json=body))
    [receipt] = run(google(server), [ads(1, to="555", email="a@b.co")])
    assert (Outcome.PERMANENT, "FAILED_PRECONDITION", "x") == (
        receipt.outcome,
        receipt.code,
        receipt.detail,
    )


def test_google_partial_failure_without_an_operation_is_not_pinned_on_anyone(server):
    failure = ads_failure(400, "INVALID_ARGUMENT", "requestError", "INVALID_INPUT")
    google_routes(server, add=Reply(json={"partialFailureError": failure["error"]}))
    receipts = run(google(server), [ads(1, to="555", email="a@b.co")])
    assert [Outcome.SENT] == [r.outcome for r in receipts]


def test_google_token_provider_failure_is_auth_without_a_request(server):
    def broken():
        raise RuntimeError("refresh failed")

    receipts = run(google(server, token_provider=broken), [ads(1, to="555", email="a@b.co")])
    assert (Outcome.AUTH, "token_provider") == (receipts[0].outcome, receipts[0].code)
    receipts = run(google(server, token_provider=lambda: ""), [ads(1, to="555", email="a@b.co")])
    assert Outcome.AUTH == receipts[0].outcome
    assert [] == server.requests


def test_google_refuses_locally_what_cannot_be_sent(server):
    google_routes(server)
    batch = [
        ads(1, to="audience-x", email="a@b.co"),
        ads(2, to="555", first_name="Ann"),  # names need an address block Customer Match rows lack
        ads(3, to="555", email="ok@b.co"),
    ]
    receipts = run(google(server), batch)
    assert [
        (Outcome.PERMANENT, "bad_audience"),
        (Outcome.PERMANENT, "no_identifiers"),
        (Outcome.SENT, None),
    ] == [(r.outcome, r.code) for r in receipts]


def test_google_bad_create_answer_is_retry_without_operations(server):
    google_routes(server, create=Reply(json={"resourceName": "../../elsewhere"}))
    [receipt] = run(google(server), [ads(1, to="555", email="a@b.co")])
    assert (Outcome.RETRY, "bad_answer") == (receipt.outcome, receipt.code)
    assert [CREATE] == paths(server)


def test_google_caps_identifiers_per_person(server):
    google_routes(server)
    emails = [f"u{n}@example.com" for n in range(25)]
    run(google(server), [ads(1, to="555", email=emails, phone="+14155550134")])
    [operation] = server.requests[1].json()["operations"]
    assert 20 == len(operation["create"]["userIdentifiers"])


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"customer_id": "acme"}, ("$.customer_id", "invalid")),
        ({"developer_token": " "}, ("$.developer_token", "required")),
        ({"token_provider": "tok"}, ("$.token_provider", "type")),
        ({"login_customer_id": 5}, ("$.login_customer_id", "invalid")),
        ({"version": "26"}, ("$.version", "invalid")),
        ({"platform": "meta"}, ("$.platform", "invalid")),
        ({"platform": "yahoo"}, ("$.platform", "unknown")),
        ({"consent": {"adUserData": True}}, ("$.consent", "type")),
        ({"identifiers_per_request": 0}, ("$.identifiers_per_request", "out_of_range")),
        ({"api_base": None}, ("$.api_base", "invalid")),
    ],
)
def test_google_constructor_validation(change, where):
    args = {"customer_id": "1", "developer_token": "d", "token_provider": lambda: "t", **change}
    positional = [args.pop(k) for k in ("customer_id", "developer_token", "token_provider")]
    assert where == error_of(lambda: GoogleCustomerMatchAdapter(*positional, **args))


def test_google_from_url_and_registry(server):
    google_routes(server)
    registry = Registry.discover()
    assert GoogleCustomerMatchAdapter is registry.load("google-customer-match")
    adapter = registry.create(
        f"google-customer-match://1234567890?developer_token=dev-token&login_customer_id=42&api_base={server.url}",
        token_provider=lambda: "t",
    )
    assert isinstance(adapter, GoogleCustomerMatchAdapter)
    assert [Outcome.SENT] == [r.outcome for r in run(adapter, [ads(1, to="555", email="a@b.co")])]
    assert "42" == server.requests[0].headers["login-customer-id"]
    assert ("$.url", "required") == error_of(
        lambda: GoogleCustomerMatchAdapter.from_url("google-customer-match://1", token_provider=str)
    )


def test_adapters_keep_the_protocol():
    from omnichannel.channels import Adapter, check_adapter_class

    for cls in (MetaAudienceAdapter, GoogleCustomerMatchAdapter):
        assert [] == check_adapter_class(cls, name=cls.name)
        assert "ads" == cls.channel
        assert 10_000 == cls.capabilities.max_batch
    adapter = MetaAudienceAdapter("t")
    assert isinstance(adapter, Adapter)
    asyncio.run(adapter.aclose())


# --- the guide ---------------------------------------------------------------------------

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "guides" / "ads-audiences.md"


def test_guide_examples_print_what_the_page_shows():
    blocks = re.findall(r"```(python|text)\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.DOTALL)
    namespace: dict[str, object] = {}
    checked = 0
    for n, (kind, body) in enumerate(blocks):
        if kind != "python":
            continue
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(body, f"ads-audiences.md block {n}", "exec"), namespace)  # noqa: S102
        if n + 1 < len(blocks) and blocks[n + 1][0] == "text":
            assert blocks[n + 1][1] == out.getvalue(), f"block {n}"
            checked += 1
    assert checked >= 2
