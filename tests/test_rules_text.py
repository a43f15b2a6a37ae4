"""Rules written as builder text (config files, forms) read back to the same rule, and run nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnichannel.channels import Envelope
from omnichannel.channels.local import FileAdapter, readable
from omnichannel.errors import RuleError
from omnichannel.personalization import RenderedEmail
from omnichannel.rules import Rule, did, in_segment, parse_rule, state, trait

_names = st.sampled_from(["country", "plan", "city"])
_events = st.sampled_from(["Order Completed", "Product Added", "Email Opened"])
_literals = st.one_of(st.integers(-1000, 1000), st.sampled_from(["DE", "FR", "it's", 'say "hi"']))


@st.composite
def _atoms(draw: st.DrawFn) -> tuple[str, Rule]:
    kind = draw(st.sampled_from(["trait", "state", "did", "within", "at_least", "segment"]))
    if kind == "trait":
        name, value = draw(_names), draw(_literals)
        return f"trait({name!r}) == {value!r}", trait(name) == value
    if kind == "state":
        count = draw(st.integers(0, 50))
        return f'state("orders") >= {count}', state("orders") >= count
    event = draw(_events)
    if kind == "did":
        return f"did({event!r})", did(event)
    if kind == "within":
        days = draw(st.integers(1, 365))
        return f"did({event!r}).within(days={days})", did(event).within(days=days)
    if kind == "at_least":
        times = draw(st.integers(1, 9))
        return f"did({event!r}).at_least({times})", did(event).at_least(times)
    key = draw(st.sampled_from(["vip", "lapsed"]))
    return f"in_segment({key!r})", in_segment(key)


def _combine(children: st.SearchStrategy[tuple[str, Rule]]) -> st.SearchStrategy[tuple[str, Rule]]:
    def both(pair: tuple[tuple[str, Rule], tuple[str, Rule], str]) -> tuple[str, Rule]:
        (left_text, left), (right_text, right), op = pair
        rule = (left & right) if op == "&" else (left | right)
        return f"({left_text}) {op} ({right_text})", rule

    def negated(child: tuple[str, Rule]) -> tuple[str, Rule]:
        return f"~({child[0]})", ~child[1]

    return st.one_of(
        st.tuples(children, children, st.sampled_from(["&", "|"])).map(both),
        children.map(negated),
    )


@given(st.recursive(_atoms(), _combine, max_leaves=8))
def test_builder_text_reads_back_to_the_rule_it_writes(pair: tuple[str, Rule]) -> None:
    text, rule = pair
    assert parse_rule(text) == rule


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('__import__("os").system("true")', "invalid"),
        ('trait("x").__class__.__mro__', "invalid"),
        ('"x".join(["a"])', "invalid"),
        ('"x" * 1000000000', "invalid"),
        ("lambda: 1", "invalid"),
        ('[x for x in did("E")]', "invalid"),
        ('did(*["E"])', "invalid"),
        ('did("E").within(weeks="two")', "invalid"),
        ('trait("x") ==', "syntax"),
        ('trait("x")', "not_a_rule"),
        ("42", "not_a_rule"),
    ],
)
def test_text_that_is_not_a_rule_is_refused_without_running(text: str, code: str) -> None:
    with pytest.raises(RuleError) as caught:
        parse_rule(text)
    assert (caught.value.errors[0].path, caught.value.errors[0].code) == ("$", code)


def test_a_rule_text_must_be_a_string() -> None:
    with pytest.raises(RuleError):
        parse_rule(42)


def _email(n: int) -> Envelope:
    return Envelope(
        id=f"row{n}",
        idempotency_key=f"k{n}",
        channel="email",
        to="ann@example.com",
        content=RenderedEmail(
            subject="Your cart",
            sender="Shop <s@example.com>",
            text="Hi Ann\nCome back.",
            html=None,
            preheader=None,
            reply_to=None,
        ),
        profile_id="p1",
        message="cart-email",
        metadata={"variant": "nudge"},
    )


def test_a_folder_outbox_writes_one_readable_file_per_message(tmp_path: Path) -> None:
    outbox = FileAdapter(f"{tmp_path}/outbox/")
    receipts = asyncio.run(outbox.send([_email(1), _email(2)]))
    assert [r.outcome.value for r in receipts] == ["sent", "sent"]
    files = sorted(p.name for p in (tmp_path / "outbox").iterdir())
    assert files == ["email-row1.txt", "email-row2.txt"]
    assert (tmp_path / "outbox" / "email-row1.txt").read_text() == readable(_email(1))
    assert readable(_email(1)) == (
        "Channel: email\nTo: ann@example.com\nMessage: cart-email\nProfile: p1\nVariant: nudge\n\n"
        "Subject: Your cart\nFrom: Shop <s@example.com>\nHi Ann\nCome back.\n"
    )


def test_a_file_outbox_appends_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    asyncio.run(FileAdapter(path).send([_email(1)]))
    asyncio.run(FileAdapter(path).send([_email(2)]))
    assert len(path.read_text().splitlines()) == 2
    assert FileAdapter(tmp_path).folder  # an existing folder is a folder outbox
