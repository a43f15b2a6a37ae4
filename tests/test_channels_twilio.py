"""Twilio SMS: requests as Twilio documents them, answers classified by error code, STOP/START."""

from __future__ import annotations

import asyncio
import base64
import socket
import urllib.parse
from collections.abc import Iterator

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnichannel import Identity, ValidationError
from omnichannel.channels import Envelope, Outcome, Registry
from omnichannel.channels.sms import segments
from omnichannel.channels.twilio import (
    DEFAULT_KEYWORDS,
    KeywordKind,
    Keywords,
    TwilioAdapter,
    inbound_keyword,
    normalize_keyword,
    sign,
    verify_signature,
)
from omnichannel.engine import Engine
from omnichannel.personalization import RenderedEmail, RenderedSms
from omnichannel.store import MemoryStore
from provider_server import ProviderServer, Reply, provider_server

SID = "AC" + "0123456789abcdef" * 2
TOKEN = "auth-token-for-tests"  # noqa: S105 - a test value, not a credential
SERVICE = "MG" + "fedcba9876543210" * 2
PATH = f"/2010-04-01/Accounts/{SID}/Messages.json"
PHONE = "+14155550134"
OURS = "+14155550100"


@pytest.fixture(scope="module")
def server() -> Iterator[ProviderServer]:
    with provider_server() as running:
        yield running


@pytest.fixture
def fresh(server: ProviderServer) -> ProviderServer:
    server.requests.clear()
    server._routes.clear()
    return server


def envelope(to: str = PHONE, body: str = "Hi Ann, 20% off today", key: str = "run1:s1:sms:p1"):
    return Envelope(
        id="out-1",
        idempotency_key=key,
        channel="sms",
        to=to,
        content=RenderedSms(body=body, segments=segments(body)),
        profile_id="p1",
        message="promo",
    )


def send(adapter: TwilioAdapter, *envelopes: Envelope):
    async def go():
        try:
            return await adapter.send(list(envelopes))
        finally:
            await adapter.aclose()

    return asyncio.run(go())


def adapter_for(server: ProviderServer, **options) -> TwilioAdapter:
    options.setdefault("from_number", OURS)
    return TwilioAdapter(SID, TOKEN, api_base=server.url, **options)


def form_of(body: bytes) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))


# --- sending ---------------------------------------------------------------------------


def test_a_message_is_one_form_post_with_basic_auth_and_the_idempotency_token(fresh):
    """201 with a sid is SENT; the request carries To/From/Body/StatusCallback, basic auth, the key."""
    fresh.route("POST", PATH, Reply(status=201, json={"sid": "SM42", "status": "queued"}))
    adapter = adapter_for(fresh, status_callback="https://hooks.example.com/status")
    [receipt] = send(adapter, envelope())
    assert (Outcome.SENT, "SM42", 201) == (receipt.outcome, receipt.provider_id, receipt.status)
    [request] = fresh.requests
    assert "application/x-www-form-urlencoded" == request.headers["content-type"]
    assert {
        "To": PHONE,
        "From": OURS,
        "Body": "Hi Ann, 20% off today",
        "StatusCallback": "https://hooks.example.com/status",
    } == form_of(request.body)
    assert (
        "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
        == (request.headers["authorization"])
    )
    assert "run1:s1:sms:p1" == request.headers["i-twilio-idempotency-token"]


def test_from_url_with_a_messaging_service_and_an_api_key(fresh):
    """twilio://SID:SECRET@?messaging_service=MG...&api_key=SK...: the service, key auth, no From."""
    fresh.route("POST", PATH, Reply(status=201, json={"sid": "SM43"}))
    key = "SK" + "00112233445566778899aabbccddeeff"
    url = (
        f"twilio://{SID}:key-secret@?messaging_service={SERVICE}&api_key={key}"
        f"&api_base={urllib.parse.quote(fresh.url)}"
    )
    adapter = Registry.discover().create(url)
    assert isinstance(adapter, TwilioAdapter)
    [receipt] = send(adapter, envelope())
    assert Outcome.SENT == receipt.outcome
    [request] = fresh.requests
    assert {"To": PHONE, "MessagingServiceSid": SERVICE, "Body": "Hi Ann, 20% off today"} == (
        form_of(request.body)
    )
    assert (
        "Basic " + base64.b64encode(f"{key}:key-secret".encode()).decode()
        == (request.headers["authorization"])
    )


def test_from_url_reads_the_sender_from_the_host_and_a_region_and_edge():
    """The host part is the From number (case and '+' kept); region/edge pick Twilio's host."""
    adapter = TwilioAdapter.from_url(f"twilio://{SID}:{TOKEN}@+14155550100?region=ie1&edge=dublin")
    assert f"https://api.dublin.ie1.twilio.com/2010-04-01/Accounts/{SID}/Messages.json" == (
        adapter.url
    )
    assert {"From": "+14155550100"} == adapter._fixed
    alpha = TwilioAdapter.from_url(f"twilio://{SID}:{TOKEN}@ShopCo")
    assert {"From": "ShopCo"} == alpha._fixed
    assert alpha.url.startswith("https://api.twilio.com/")
    asyncio.run(adapter.aclose())
    asyncio.run(alpha.aclose())


def error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status=status, json={"code": code, "message": message}, headers=headers or {})


@pytest.mark.parametrize(
    ("reply", "outcome", "retry_after"),
    [
        (error(400, 21610, "Attempt to send to unsubscribed recipient"), Outcome.OPTED_OUT, None),
        (error(400, 21211, "Invalid 'To' Phone Number"), Outcome.INVALID_ADDRESS, None),
        (error(400, 21614, "'To' number is not a valid mobile number"), Outcome.INVALID_ADDRESS, None),
        (error(400, 21612, "To/From combination cannot be connected"), Outcome.PERMANENT, None),
        (error(400, 21408, "Permission to send an SMS has not been enabled"), Outcome.PERMANENT, None),
        (error(401, 20003, "Authenticate"), Outcome.AUTH, None),
        (error(429, 20429, "Too Many Requests", {"Retry-After": "7"}), Outcome.RETRY, 7.0),
        (error(400, 21611, "queue full"), Outcome.RETRY, None),
        (error(400, 21617, "body too long"), Outcome.PERMANENT, None),
        (error(500, 20500, "Internal Server Error"), Outcome.RETRY_AMBIGUOUS, None),
        (error(503, 20503, "Service Unavailable", {"Retry-After": "3"}), Outcome.RETRY, 3.0),
        (Reply(status=429, json=None), Outcome.RETRY, None),
    ],
)  # fmt: skip
def test_answers_are_classified_by_twilio_error_code(fresh, reply, outcome, retry_after):
    """Twilio's documented codes decide; the status decides for the rest; Retry-After is kept."""
    fresh.route("POST", PATH, reply)
    [receipt] = send(adapter_for(fresh), envelope())
    assert (outcome, retry_after, reply.status) == (
        receipt.outcome, receipt.retry_after, receipt.status,
    )  # fmt: skip
    if reply.json is not None:
        assert (str(reply.json["code"]), reply.json["message"]) == (receipt.code, receipt.detail)
    assert 1 == len(fresh.requests)


def test_a_plain_text_error_page_is_classified_by_status(fresh):
    """A proxy's HTML 502 has no Twilio code: the status says ambiguous."""
    fresh.route("POST", PATH, Reply(status=502, text="<html>Bad Gateway</html>"))
    [receipt] = send(adapter_for(fresh), envelope())
    assert (Outcome.RETRY_AMBIGUOUS, None) == (receipt.outcome, receipt.code)


def test_network_failures_are_receipts(fresh):
    """A dropped connection after sending is ambiguous; a refused connection is a plain retry."""
    fresh.route("POST", PATH, Reply(drop=True))
    [dropped] = send(adapter_for(fresh), envelope())
    assert Outcome.RETRY_AMBIGUOUS == dropped.outcome
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    adapter = TwilioAdapter(
        SID, TOKEN, from_number=OURS, api_base=f"http://127.0.0.1:{closed_port}"
    )
    [refused] = send(adapter, envelope())
    assert Outcome.RETRY == refused.outcome


def test_bad_recipients_and_contents_are_settled_without_a_request(fresh):
    """A non-E.164 recipient is INVALID_ADDRESS and an e-mail rendition PERMANENT, unsent."""
    email = RenderedEmail(
        subject="s", sender="a@b.co", html=None, text="t", preheader=None, reply_to=None
    )
    wrong_content = Envelope(
        id="2", idempotency_key="k2", channel="sms", to=PHONE, content=email,
        profile_id="p1", message="m",
    )  # fmt: skip
    receipts = send(adapter_for(fresh), envelope(to="4155550134"), wrong_content)
    assert [Outcome.INVALID_ADDRESS, Outcome.PERMANENT] == [r.outcome for r in receipts]
    assert [] == fresh.requests


@pytest.mark.parametrize(
    ("args", "options", "path"),
    [
        (("AC123", TOKEN), {"from_number": OURS}, "$.account_sid"),
        ((SID, ""), {"from_number": OURS}, "$.auth_token"),
        ((SID, TOKEN), {}, "$.from_number"),
        ((SID, TOKEN), {"from_number": "not a number!"}, "$.from_number"),
        ((SID, TOKEN), {"messaging_service_sid": "MG1"}, "$.messaging_service_sid"),
        ((SID, TOKEN), {"from_number": OURS, "status_callback": "ftp://x"}, "$.status_callback"),
        ((SID, TOKEN), {"from_number": OURS, "api_key": "AC1"}, "$.api_key"),
        (
            (SID, TOKEN),
            {"from_number": OURS, "api_base": "http://x", "region": "ie1"},
            "$.api_base",
        ),
        ((SID, TOKEN), {"from_number": OURS, "region": "IE 1"}, "$.region"),
    ],
)
def test_configuration_errors_name_the_field(args, options, path):
    """Every bad setting is a ValidationError at its own JSON path."""
    with pytest.raises(ValidationError) as caught:
        TwilioAdapter(*args, **options)
    assert path == caught.value.errors[0].path


def test_url_errors_name_the_url():
    """A URL without credentials or with an unknown option is refused at $.url."""
    for url in (f"twilio://{SID}@{OURS}", f"twilio://{SID}:{TOKEN}@{OURS}?colour=red", "sms://x"):
        with pytest.raises(ValidationError) as caught:
            TwilioAdapter.from_url(url)
        assert "$.url" == caught.value.errors[0].path


# --- webhook signatures ----------------------------------------------------------------

# Twilio's published example: auth token 12345, this URL and these parameters.
EXAMPLE_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
EXAMPLE_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}


def test_signature_matches_twilios_published_examples():
    """Single values, repeated names (sorted by name then value), as a mapping or as pairs."""
    assert "RSOYDt4T1cUTdK1PDd93/VVr8B8=" == sign("12345", EXAMPLE_URL, EXAMPLE_PARAMS)
    pairs = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234")]
    assert "IK+Dwps556ElfBT0I3Rgjkr1wJU=" == sign("12345", EXAMPLE_URL, pairs)
    as_lists = {"Sid": "CA123", "SidAccount": "AC123", "Digits": ["5678", "1234"]}
    assert "IK+Dwps556ElfBT0I3Rgjkr1wJU=" == sign("12345", EXAMPLE_URL, as_lists)


@pytest.mark.parametrize(
    ("url", "signature"),
    [
        (EXAMPLE_URL, "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
        # Twilio may sign with or without the port: a port in our URL is dropped ...
        ("https://mycompany.com:1234/myapp.php?foo=1&bar=2", "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
        # ... or the default port added.
        (EXAMPLE_URL, "kvajT1Ptam85bY51eRf/AJRuM3w="),
        ("http://mycompany.com/myapp.php?foo=1&bar=2", "0ZXoZLH/DfblKGATFgpif+LLRf4="),
        ("http://mycompany.com:1234/myapp.php?foo=1&bar=2", "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="),
    ],
)
def test_verify_accepts_either_port_form(url, signature):
    """Twilio's signing is inconsistent about ports; both forms verify, as in its own libraries."""
    assert verify_signature("12345", url, EXAMPLE_PARAMS, signature)


def test_verify_rejects_a_changed_parameter_url_or_token():
    """Any change to what was signed fails verification."""
    good = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert not verify_signature("12345", EXAMPLE_URL, {**EXAMPLE_PARAMS, "Digits": "1235"}, good)
    assert not verify_signature("12345", EXAMPLE_URL + "&x=1", EXAMPLE_PARAMS, good)
    assert not verify_signature("54321", EXAMPLE_URL, EXAMPLE_PARAMS, good)
    assert not verify_signature("12345", EXAMPLE_URL, EXAMPLE_PARAMS, "")


# --- inbound keywords ------------------------------------------------------------------

AT = pendulum.datetime(2024, 3, 5, 10, 0)


def inbound(body: str, sid: str = "SM100", **extra: str) -> dict[str, str]:
    return {"From": PHONE, "To": OURS, "Body": body, "MessageSid": sid, **extra}


def test_stop_revokes_and_start_grants_sms_consent_in_the_engine():
    """Round trip: grant, a signed STOP webhook revokes, a START grants again (message times only)."""
    engine = Engine(MemoryStore())
    engine.ingest(
        {
            "type": "identify",
            "userId": "u1",
            "traits": {"phone": PHONE},
            "timestamp": "2024-03-05T09:00:00Z",
        }
    )
    engine.ingest(
        {
            "type": "track", "userId": "u1", "event": "Consent Granted",
            "properties": {"purpose": "marketing", "channel": "sms"},
            "timestamp": "2024-03-05T09:30:00Z",
        }
    )  # fmt: skip
    person = Identity(kind="phone", value=PHONE)
    assert engine.profile(person).consent("marketing", "sms", AT)

    hook = "https://shop.example.com/twilio/inbound"
    form = inbound("Stop", sid="SM200")
    assert verify_signature(TOKEN, hook, form, sign(TOKEN, hook, form))
    stop = inbound_keyword(form, at=AT.add(minutes=5))
    assert (KeywordKind.OPT_OUT, "stop") == (stop.kind, stop.keyword)
    result = engine.ingest(stop.event)
    profile = engine.profile(person)
    assert result.profile_id == profile.id  # the phone found the person who granted
    assert not profile.consent("marketing", "sms", AT.add(minutes=6))
    assert Identity(kind="user_id", value="u1") in profile.identities

    again = engine.ingest(stop.event)  # Twilio retried the webhook: the same messageId
    assert engine.profile(person).consent("marketing", "sms", AT.add(minutes=6)) is False
    assert again.duplicate

    start = inbound_keyword(inbound(" START ", sid="SM201"), at=AT.add(minutes=9))
    assert KeywordKind.OPT_IN == start.kind
    engine.ingest(start.event)
    assert engine.profile(person).consent("marketing", "sms", AT.add(minutes=10))


def test_the_event_is_the_documented_consent_event():
    """Consent Revoked for the purpose on sms, the phone as an identifier, the sid as messageId."""
    found = inbound_keyword(inbound("unsubscribe"), at=AT, purpose="promotions")
    assert {
        "type": "track",
        "event": "Consent Revoked",
        "anonymousId": f"sms:{PHONE}",
        "messageId": "twilio:SM100",
        "timestamp": "2024-03-05T10:00:00+00:00",
        "channel": "sms",
        "context": {"traits": {"phone": PHONE}},
        "properties": {
            "purpose": "promotions",
            "channel": "sms",
            "keyword": "unsubscribe",
            "provider": "twilio",
            "to": OURS,
            "message_sid": "SM100",
        },
    } == found.event


def test_help_and_ordinary_messages_change_nothing():
    """HELP is recognised without an event; a sentence is not a keyword but is flagged if it says stop."""
    help_ = inbound_keyword(inbound("info"), at=AT)
    assert (KeywordKind.HELP, None) == (help_.kind, help_.event)
    chat = inbound_keyword(inbound("Where is my order?"), at=AT)
    assert (None, None, False) == (chat.kind, chat.event, chat.mentions_opt_out)
    plea = inbound_keyword(inbound("Please STOP texting me"), at=AT)
    assert (None, None, True) == (plea.kind, plea.event, plea.mentions_opt_out)
    assert inbound_keyword(inbound("I want to opt out now"), at=AT).mentions_opt_out
    assert not inbound_keyword(inbound("stopwatch deals?"), at=AT).mentions_opt_out


def test_twilio_advanced_opt_out_type_wins():
    """A custom Advanced Opt-Out keyword (ARRET) arrives with OptOutType=STOP: it is an opt-out."""
    found = inbound_keyword(inbound("ARRET", OptOutType="STOP"), at=AT)
    assert (KeywordKind.OPT_OUT, "stop", "Consent Revoked") == (
        found.kind, found.keyword, found.event["event"],
    )  # fmt: skip
    assert KeywordKind.OPT_IN == inbound_keyword(inbound("oui", OptOutType="START"), at=AT).kind


def test_custom_keywords():
    """A host may use its own words (matched with the same normalization)."""
    french = Keywords(opt_out={"ARRÊT", "stop"}, opt_in={"Commencer"}, help={"aide"})
    assert KeywordKind.OPT_OUT == inbound_keyword(inbound("arrêt!"), at=AT, keywords=french).kind
    assert inbound_keyword(inbound("yes"), at=AT, keywords=french).kind is None
    with pytest.raises(ValidationError):
        Keywords(opt_out="stop", opt_in={"start"}, help={"help"})  # letters, not a word


@pytest.mark.parametrize(
    ("form", "at", "purpose", "path"),
    [
        ({"Body": "STOP", "MessageSid": "SM1"}, AT, "marketing", "$.From"),
        (inbound("STOP", From="ShopCo"), AT, "marketing", "$.From"),
        ({"From": PHONE, "Body": "STOP"}, AT, "marketing", "$.MessageSid"),
        (inbound("STOP"), pendulum.naive(2024, 3, 5), "marketing", "$.at"),
        (inbound("STOP"), "2024-03-05", "marketing", "$.at"),
        (inbound("STOP"), AT, "Not A Purpose", "$.purpose"),
        (["From", PHONE], AT, "marketing", "$"),
    ],
)
def test_inbound_validation_names_the_field(form, at, purpose, path):
    """A form that cannot be read is a ValidationError at the field's path."""
    with pytest.raises(ValidationError) as caught:
        inbound_keyword(form, at=at, purpose=purpose)
    assert path == caught.value.errors[0].path


def test_multi_dict_values_are_read():
    """Frameworks that give lists per field (parse_qs) are read too."""
    form = {k: [v] for k, v in inbound("quit").items()}
    assert KeywordKind.OPT_OUT == inbound_keyword(form, at=AT).kind


_PADDING = st.text(alphabet=" \t\r\n.!?,;:'\"()-", max_size=4)


def _recased(word: str, flips: list[bool]) -> str:
    return "".join(
        c.upper() if f else c for c, f in zip(word, flips + [False] * len(word), strict=False)
    )


@given(
    word=st.sampled_from(sorted(DEFAULT_KEYWORDS.opt_out)),
    flips=st.lists(st.booleans(), max_size=12),
    before=_PADDING,
    after=_PADDING,
    spaces=st.sampled_from([" ", "  ", "\t", "-", "_"]),
)
def test_every_opt_out_keyword_matches_in_any_case_and_padding(word, flips, before, after, spaces):
    """Case, surrounding whitespace and punctuation, and the separator inside 'opt out' do not matter."""
    body = before + _recased(word.replace(" ", spaces), flips) + after
    found = inbound_keyword(inbound(body), at=AT)
    assert (KeywordKind.OPT_OUT, word, "Consent Revoked") == (
        found.kind, found.keyword, found.event["event"],
    )  # fmt: skip


@given(
    word=st.sampled_from(sorted(DEFAULT_KEYWORDS.opt_in)),
    flips=st.lists(st.booleans(), max_size=8),
    before=_PADDING,
    after=_PADDING,
)
def test_every_opt_in_keyword_matches_in_any_case_and_padding(word, flips, before, after):
    """START, YES, UNSTOP in any case and padding grant again."""
    found = inbound_keyword(inbound(before + _recased(word, flips) + after), at=AT)
    assert (KeywordKind.OPT_IN, "Consent Granted") == (found.kind, found.event["event"])


@given(body=st.text(max_size=40))
def test_any_body_is_a_keyword_only_when_its_normal_form_is_one(body):
    """Arbitrary text never fails, and is a keyword exactly when normalize_keyword says so."""
    found = inbound_keyword(inbound(body), at=AT)
    word = normalize_keyword(body)
    listed = word in DEFAULT_KEYWORDS.opt_out | DEFAULT_KEYWORDS.opt_in | DEFAULT_KEYWORDS.help
    assert listed == (found.kind is not None)
    assert (found.event is not None) == (found.kind in {KeywordKind.OPT_OUT, KeywordKind.OPT_IN})
