"""The Engine with everything wired in: Segment calls, send, decide, tick; AsyncEngine; TOML."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path
from typing import Any

import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnichannel import AsyncEngine, Engine, Identity, ValidationError
from omnichannel.channels.local import FileAdapter, RecordingAdapter
from omnichannel.clock import FixedClock
from omnichannel.config import load_config
from omnichannel.journeys import library
from omnichannel.personalization import Campaign, InApp, Message, Push, Sms, Variant
from omnichannel.rules import trait
from omnichannel.segments import Segment
from omnichannel.store import MemoryStore, SQLiteStore

AT = pendulum.datetime(2024, 3, 5, 10)
HELLO = Message(
    key="hello", sms=Sms(body="Hi {{ profile | first_name }}"), push=Push(title="Hi", body="Hi")
)


def _engine(**options: Any) -> tuple[Engine, RecordingAdapter, FixedClock]:
    recorder, clock = RecordingAdapter(), FixedClock(AT)
    options.setdefault("messages", [HELLO])
    engine = Engine(MemoryStore(), clock=clock, channels={"any": recorder}, **options)
    return engine, recorder, clock


def _person(engine: Engine, user: str = "u1", *, consent: bool = True, **traits: Any) -> str:
    """A person with an address on each channel; each call a second after the last."""
    phone = f"+49151236172{int(user[1:]):02d}"  # one number each: a shared one would link them
    base = {"first_name": "Ann", "phone": phone, "email": f"{user}@example.com"}
    clock = engine.clock
    assert isinstance(clock, FixedClock)
    # Calls at one instant tie, and the tie-break on message ids may name the profile after
    # a later call (the canonical id is the earliest sighting's): real clocks move on.
    pid = engine.identify(user, traits={**base, **traits}).profile_id
    assert pid is not None
    if consent:
        for channel in ("sms", "email", "push"):
            clock.advance(seconds=1)
            engine.track(
                "Consent Granted", user, properties={"purpose": "marketing", "channel": channel}
            )
    clock.advance(seconds=1)
    return pid


def test_the_segment_calls_build_one_person() -> None:
    engine, _, _ = _engine()
    engine.track("Product Viewed", anonymous_id="a1", properties={"product_id": "p1"})
    engine.identify("u1", anonymous_id="a1", traits={"email": "ann@example.com"})
    engine.alias("u1", "old-id")
    profile = engine.profile(Identity(kind="email", value="ann@example.com"))
    assert profile is not None
    assert sorted(map(str, profile.identities)) == [
        "anonymous_id:a1", "anonymous_id:old-id", "email:ann@example.com", "user_id:u1",
    ]  # fmt: skip
    assert engine.profile(Identity(kind="anonymous_id", value="a1")) == profile


def test_a_timestamp_defaults_to_the_clock_and_bad_input_names_the_field() -> None:
    engine, _, clock = _engine()
    pid = engine.track("Signed Up", "u1").profile_id
    assert pid is not None
    state = engine.state(pid)
    assert state is not None
    assert state.activity.first_seen == clock.now()
    with pytest.raises(ValidationError) as caught:
        engine.track("Signed Up", "u1", properties="not an object")  # type: ignore[arg-type]
    assert caught.value.errors[0].path == "$.properties"


def test_send_ranks_renders_and_queues_then_tick_relays() -> None:
    engine, recorder, _ = _engine()
    pid = _person(engine)
    sent = engine.send("hello", pid)
    assert (sent.status, sent.channel) == ("queued", "sms")  # push has no token: SMS is best
    assert engine.tick().relayed.sent == 1
    assert [(e.channel, e.content.body) for e in recorder.sent] == [("sms", "Hi Ann")]


def test_send_says_why_nothing_went() -> None:
    held_back = Campaign(key="promo", variants=[Variant(key="a", message=HELLO)], holdout=0.99)
    engine, recorder, _ = _engine(messages=[HELLO, held_back])
    without = _person(engine, "u2", consent=False)
    nobody = engine.send("hello", without)
    assert nobody.status == "no_channel"
    assert "sms:" in nobody.reason
    pid = _person(engine)
    assert engine.send("promo", pid).status == "held"
    no_token = engine.send("hello", pid, channel="push")
    assert (no_token.status, no_token.reason) == ("no_channel", "no push_token on file")
    with pytest.raises(ValidationError):  # the message has no e-mail rendition
        engine.send("hello", pid, channel="email")
    assert engine.tick().relayed.sent == 0
    assert recorder.sent == []


@pytest.mark.parametrize(
    ("call", "path"),
    [
        (lambda e, pid: e.send("nope", pid), "$.message"),
        (lambda e, _pid: e.send("hello", "no-such-profile"), "$.profile"),
        (lambda e, pid: e.decide("hello", pid), "$.placement"),
    ],
)
def test_send_and_decide_refuse_what_does_not_exist(call: Any, path: str) -> None:
    engine, _, _ = _engine()
    pid = _person(engine)
    with pytest.raises(ValidationError) as caught:
        call(engine, pid)
    assert caught.value.errors[0].path == path


def test_decide_renders_a_placement_for_the_person() -> None:
    banner = Campaign(
        key="banner",
        variants=[
            Variant(key="de", message=Message(key="de", in_app=InApp(title="Hallo", body="Hallo")), when=trait("country") == "DE"),
            Variant(key="all", message=Message(key="all", in_app=InApp(title="Hello", body="Hello"))),
        ],
    )  # fmt: skip
    engine, _, _ = _engine(messages=[banner])
    german, other = _person(engine, "u1", country="DE"), _person(engine, "u2", country="FR")
    shown = {pid: engine.decide("banner", pid).content for pid in (german, other)}
    assert {pid: c.body for pid, c in shown.items() if c} == {german: "Hallo", other: "Hello"}


def test_tick_runs_the_journeys_due_then_relays_their_messages() -> None:
    engine, recorder, clock = _engine(
        journeys=[library.abandoned_cart()],
        messages=library.messages(),
        unsubscribe_url="https://shop.example/u/{profile_id}",
    )
    _person(engine)
    engine.track(
        "Product Added", "u1", properties={"product_id": "p1", "name": "Coat", "quantity": 1}
    )
    clock.advance(hours=1)
    tick = engine.tick()
    assert (tick.journeys.sends, tick.relayed.sent) == (1, 1)
    assert recorder.sent[0].message == "cart-email"
    assert "https://shop.example/u/" in recorder.sent[0].content.text


def test_tick_works_inside_a_running_event_loop() -> None:
    """A notebook cell runs inside the kernel's loop; the sync relay must not need its own."""
    engine, recorder, _ = _engine()
    engine.send("hello", _person(engine))

    async def cell() -> int:
        return engine.tick().relayed.sent

    assert asyncio.run(cell()) == 1
    assert len(recorder.sent) == 1


def test_channels_by_url_are_built_by_the_adapter_plugins(tmp_path: Path) -> None:
    engine = Engine(MemoryStore(), channels={"any": f"file://{tmp_path}/outbox.jsonl"})
    adapter = engine.delivery.adapters["any"]
    assert isinstance(adapter, FileAdapter)
    assert adapter.path == tmp_path / "outbox.jsonl"
    with pytest.raises(ValidationError) as caught:
        Engine(MemoryStore(), channels={"email": "carrier-pigeon://coop"})
    assert (caught.value.errors[0].path, caught.value.errors[0].code) == (
        "$.channels.email",
        "unknown",
    )
    with pytest.raises(ValidationError) as caught:
        Engine(MemoryStore(), channels={"sms": "twilio://nobody"})
    assert caught.value.errors[0].path.startswith("$.channels.sms")


def test_messages_and_the_unsubscribe_link_are_checked() -> None:
    with pytest.raises(ValidationError) as caught:
        Engine(MemoryStore(), messages=[HELLO, HELLO])
    assert caught.value.errors[0].path == "$.messages"
    with pytest.raises(ValidationError) as caught:
        Engine(MemoryStore(), messages=["hello"])  # type: ignore[list-item]
    assert caught.value.errors[0].path == "$.messages[0]"
    with pytest.raises(ValidationError) as caught:
        Engine(MemoryStore(), unsubscribe_url="https://shop.example/unsubscribe")
    assert caught.value.errors[0].path == "$.unsubscribe_url"


# --- AsyncEngine: the same brain -------------------------------------------------------


_calls = st.lists(
    st.tuples(
        st.sampled_from(["u1", "u2", "u3"]),
        st.sampled_from(["Product Viewed", "Product Added", "Order Completed"]),
        st.integers(0, 10_000),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=25, deadline=None)
@given(calls=_calls)
def test_async_and_sync_engines_keep_the_same_people(calls: list[tuple[str, str, int]]) -> None:
    def payloads() -> list[dict[str, Any]]:
        return [
            {"type": "track", "userId": user, "event": event, "messageId": f"m{n}",
             "properties": {"order_id": f"o{n}", "revenue": 10}, "context": {"channel": "web"},
             "timestamp": AT.add(seconds=second).isoformat()}
            for n, (user, event, second) in enumerate(calls)
        ]  # fmt: skip

    sync = Engine(MemoryStore(), clock=FixedClock(AT))
    sync.ingest_many(payloads())

    async def run() -> dict[str, Any]:
        async with AsyncEngine(MemoryStore(), clock=FixedClock(AT)) as engine:
            # Concurrent calls from one loop: the worker thread takes them one at a time.
            await asyncio.gather(*(engine.ingest(p) for p in payloads()))
            users = sorted({user for user, _, _ in calls})
            return {u: await engine.state(Identity(kind="user_id", value=u)) for u in users}

    states = asyncio.run(run())
    assert states == {u: sync.state(Identity(kind="user_id", value=u)) for u in states}


def test_async_engine_sends_and_relays_on_the_callers_loop() -> None:
    recorder = RecordingAdapter()

    async def run() -> tuple[str, int]:
        engine = AsyncEngine(
            MemoryStore(), clock=FixedClock(AT), channels={"any": recorder}, messages=[HELLO]
        )
        pid = (
            await engine.identify("u1", traits={"first_name": "Ann", "phone": "+4915123617258"})
        ).profile_id
        assert pid is not None
        await engine.track(
            "Consent Granted", "u1", properties={"purpose": "marketing", "channel": "sms"}
        )
        assert await engine.segments_of(pid) == frozenset()
        assert (await engine.explain(pid)) is not None
        sent = await engine.send("hello", pid)
        tick = await engine.tick()
        exported = await engine.export(pid)
        assert exported["profile"]["id"] == pid
        assert (await engine.erase(pid)).profile_id == pid
        await engine.aclose()
        return sent.status, tick.relayed.sent

    assert asyncio.run(run()) == ("queued", 1)
    assert [e.content.body for e in recorder.sent] == ["Hi Ann"]


def test_async_engine_wraps_an_engine_and_reads_a_config(tmp_path: Path) -> None:
    path = tmp_path / "omnichannel.toml"
    path.write_text('store = "memory"\n[segments.de]\nrule = \'trait("country") == "DE"\'\n')

    async def run() -> list[str]:
        engine = AsyncEngine.from_config(path, clock=FixedClock(AT))
        pid = (await engine.ingest_many([
            {"type": "identify", "userId": "u1", "traits": {"country": "DE"}, "timestamp": AT.isoformat()}
        ]))[0].profile_id  # fmt: skip
        members = await engine.members("de")
        await engine.refresh()
        decided = engine.decide("x", pid or "")
        with pytest.raises(ValidationError):
            await decided
        await engine.aclose()
        return members

    assert len(asyncio.run(run())) == 1


# --- TOML ------------------------------------------------------------------------------

CONFIG = """
store = "{store}"
unsubscribe_url = "https://shop.example/unsubscribe/{{profile_id}}"

[channels]
any = "file://{outbox}/"

[segments.germany]
name = "Germany"
rule = 'trait("country") == "DE"'
tags = ["geo"]

[segments.buyers]
rule = {{ ">=" = [{{ "var" = "state.orders" }}, 1] }}

[messages.nudge]
sms = {{ body = "Hi {{{{ profile | first_name }}}}, your cart is waiting" }}

[messages.discount]
sms = {{ body = "5 off your cart" }}

[campaigns.cart-reminder]
holdout = 0.1
variants = [{{ key = "nudge", message = "nudge" }}, {{ key = "discount", message = "discount", when = 'trait("country") == "DE"' }}]

[[journeys]]
library = "abandoned_cart"
audience = "lookalikes"

[[journeys]]
library = "birthday"

[policy]
time_zone = "Europe/Berlin"
"""


def test_an_engine_from_a_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "omnichannel.toml"
    path.write_text(CONFIG.format(store=tmp_path / "shop.db", outbox=tmp_path / "outbox"))
    engine = Engine.from_config(path, clock=FixedClock(AT))
    assert isinstance(engine.store, SQLiteStore)
    assert [s.key for s in engine.segmentation.segments] == ["germany", "buyers"]
    assert engine.runner is not None
    assert sorted(engine.runner.journeys) == [
        "abandoned-cart",
        "birthday",
    ]
    assert {"nudge", "discount", "cart-reminder", "cart-email"} <= set(engine.messages)
    assert engine.delivery.policy.time_zone == "Europe/Berlin"
    pid = _person(engine, country="DE")
    assert engine.members("germany") == [pid]
    sent = engine.send("cart-reminder", pid)
    assert (sent.variant, sent.channel) == ("discount", "sms")
    engine.tick()
    [written] = (tmp_path / "outbox").iterdir()
    assert "5 off your cart" in written.read_text()


def test_a_config_lists_every_problem_with_its_path() -> None:
    with pytest.raises(ValidationError) as caught:
        load_config(
            {
                "stores": "typo.db",
                "segments": {"a": {"rule": 'trait("x") =='}, "b": {"name": "no rule"}},
                "messages": {"m": {"sms": {"bodi": "x"}}},
                "campaigns": {"c": {"variants": [{"key": "v", "message": "missing"}]}},
                "journeys": [{"library": "nope"}, {"library": "birthday", "colour": "red"}],
                "channels": {"email": 42},
                "unsubscribe_url": "https://no-placeholder",
            }
        )
    paths = sorted(e.path for e in caught.value.errors)
    assert paths == [
        "$.campaigns.c.variants[0].message",
        "$.channels.email",
        "$.journeys[0].library",
        "$.journeys[1]",
        "$.messages.m.sms.body",
        "$.segments.a.rule",
        "$.segments.b.rule",
        "$.stores",
        "$.unsubscribe_url",
    ]


@pytest.mark.parametrize(
    ("text", "code"),
    [("store = ", "syntax"), (None, "unreadable")],
)
def test_an_unreadable_config_file_says_why(tmp_path: Path, text: str | None, code: str) -> None:
    path = tmp_path / "omnichannel.toml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ValidationError) as caught:
        Engine.from_config(path)
    assert caught.value.errors[0].code == code


def test_the_config_example_in_the_module_docstring_reads() -> None:
    import omnichannel.config

    doc = omnichannel.config.__doc__ or ""
    example = textwrap.dedent(doc.split("The layout::", 1)[1].split("\n\nThe ready-made", 1)[0])
    options = load_config(__import__("tomllib").loads(example) | {"store": "memory"})
    assert [s.key for s in options["segments"]] == ["lapsed"]
    assert options["channels"]["email"] == "smtp://127.0.0.1:2525"
    assert [j.key for j in options["journeys"]] == ["abandoned-cart"]
    # The ready-made journey's messages come with it.
    assert {"nudge", "discount", "cart-reminder", "cart-email"} <= {
        m.key for m in options["messages"]
    }
    assert all(isinstance(s, Segment) for s in options["segments"])


def test_the_host_apps_guide_config_reads() -> None:
    """The TOML file the integration guide shows is a valid config."""
    import re

    import tomllib

    guide = Path(__file__).parent.parent / "docs" / "guides" / "host-apps.md"
    block = re.search(r"```toml\n(.*?)```", guide.read_text(encoding="utf-8"), re.DOTALL)
    assert block is not None
    options = load_config(tomllib.loads(block.group(1)) | {"store": "memory"})
    assert [s.key for s in options["segments"]] == ["buyers", "lapsed"]
    assert [j.key for j in options["journeys"]] == ["abandoned-cart", "onboarding"]
