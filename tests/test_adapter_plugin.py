"""Adapter plugins: the conformance kit, a real third-party distribution, and the registry.

The echo example (examples/omnichannel-echo-adapter) is built by its own
build backend and installed into a temporary directory, never into the
running environment; a subprocess with that directory on PYTHONPATH then
finds it through the entry-point group like any installed plugin.
"""

from __future__ import annotations

import asyncio
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnichannel.channels import (
    Capabilities,
    Envelope,
    Outcome,
    Receipt,
    Registry,
    check_adapter_class,
)
from omnichannel.channels.conformance import (
    SAMPLE_CHANNELS,
    AdapterConformanceError,
    check_adapter,
    registry_check,
    sample_envelopes,
    verify_adapter,
)
from omnichannel.channels.local import ConsoleAdapter, FileAdapter, RecordingAdapter
from omnichannel.channels.webhook import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookAdapter,
    verify_signature,
)
from omnichannel.errors import PluginError, ValidationError
from omnichannel.personalization import (
    RenderedAds,
    RenderedEmail,
    RenderedInApp,
    RenderedPush,
    RenderedSms,
)
from provider_server import Recorded, Reply, provider_server

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "omnichannel-echo-adapter"


# --- the kit against broken adapters ---------------------------------------------------------


class Good:
    """A minimal conforming adapter; each broken one below changes one thing."""

    name: ClassVar[str] = "good"
    channel: ClassVar[str] = "webhook"
    capabilities: ClassVar[Capabilities] = Capabilities(max_batch=10)

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.closes = 0

    def answer(self, batch: Sequence[Envelope]) -> list[Any]:
        return [Receipt.sent(f"id-{e.id}") for e in batch]

    async def send(self, batch: Sequence[Envelope]) -> Sequence[Receipt]:
        self.batches.append(len(batch))
        return self.answer(batch)

    async def aclose(self) -> None:
        self.closes += 1


class WrongCount(Good):
    def answer(self, batch):
        return super().answer(batch)[:-1]


class SyncSend(Good):
    def send(self, batch):
        return [Receipt.sent() for _ in batch]


class NoCapabilities(Good):
    capabilities = None


class RaisesOnEmpty(Good):
    async def send(self, batch):
        if not batch:
            raise ValueError("nothing to send")
        return self.answer(batch)


class Generator(Good):
    async def send(self, batch):
        return (Receipt.sent() for _ in batch)


class SentWithRetryAfter(Good):
    def answer(self, batch):
        return [Receipt(outcome=Outcome.SENT, retry_after=5.0) for _ in batch]


class PermanentWithRetryAfter(Good):
    def answer(self, batch):
        return [Receipt(outcome=Outcome.PERMANENT, retry_after=5.0) for _ in batch]


class NegativeWait(Good):
    def answer(self, batch):
        return [Receipt(outcome=Outcome.RETRY, retry_after=-1.0) for _ in batch]


class IdOnFailure(Good):
    def answer(self, batch):
        return [Receipt(outcome=Outcome.OPTED_OUT, provider_id="x") for _ in batch]


class NotReceipts(Good):
    def answer(self, batch):
        return [("sent", e.id) for e in batch]


class StringOutcome(Good):
    def answer(self, batch):
        return [Receipt(outcome="sent") for _ in batch]


class SmallerThanDeclared(Good):
    capabilities = Capabilities(max_batch=50)

    async def send(self, batch):
        if len(batch) > 10:
            raise RuntimeError("provider takes 10 at most")
        return self.answer(batch)


class OneShot(Good):
    async def send(self, batch):
        if len(self.batches) > 2:
            raise RuntimeError("client already closed")
        self.batches.append(len(batch))
        return self.answer(batch)


class ListOnly(Good):
    async def send(self, batch):
        batch.sort(key=lambda e: e.id)  # a tuple has no sort: this relies on getting a list
        return self.answer(batch)


class CloseOnce(Good):
    async def aclose(self):
        if self.closes:
            raise RuntimeError("already closed")
        self.closes += 1


class NeedsSendToClose(Good):
    async def aclose(self):
        if not self.batches:
            raise AttributeError("no client yet")


class Hangs(Good):
    async def send(self, batch):
        await asyncio.sleep(3600)
        return self.answer(batch)


BROKEN = [
    (WrongCount, "returned 2 receipts for 3 envelopes"),
    (SyncSend, "send must be an async method"),
    (NoCapabilities, "capabilities must be a Capabilities"),
    (RaisesOnEmpty, "send([]) raised ValueError: nothing to send"),
    (Generator, "returned generator, not a sequence"),
    (SentWithRetryAfter, "is SENT but carries retry_after"),
    (PermanentWithRetryAfter, "is PERMANENT but carries retry_after"),
    (NegativeWait, "not a finite number of seconds >= 0"),
    (IdOnFailure, "is OPTED_OUT but carries a provider_id"),
    (NotReceipts, "is a tuple, not a Receipt"),
    (StringOutcome, "has outcome 'sent', not an Outcome"),
    (SmallerThanDeclared, "full batch (max_batch=50) raised RuntimeError"),
    (OneShot, "a later send() of 3 envelopes as a tuple raised RuntimeError"),
    (ListOnly, "as a tuple raised AttributeError"),
    (CloseOnce, "a second aclose() raised RuntimeError"),
    (NeedsSendToClose, "aclose() of an adapter that never sent raised AttributeError"),
]


@pytest.mark.parametrize(("cls", "message"), BROKEN, ids=[c.__name__ for c, _ in BROKEN])
def test_kit_rejects_a_broken_adapter(cls, message):
    """Each way of breaking the protocol fails the kit with a message saying which."""
    with pytest.raises(AdapterConformanceError, match="does not conform") as caught:
        verify_adapter(cls)
    assert isinstance(caught.value, AssertionError)
    assert any(message in problem for problem in caught.value.problems), caught.value.problems


def test_kit_closes_an_adapter_that_failed_a_check():
    """A failing run still releases the adapter's connections before reporting."""
    made: list[Good] = []

    def make():
        made.append(WrongCount())
        return made[-1]

    with pytest.raises(AdapterConformanceError):
        verify_adapter(make)
    assert [([0, 3], 1)] == [(m.batches, m.closes) for m in made]


def test_kit_accepts_the_good_adapter_and_uses_one_instance_throughout():
    """The reference adapter passes: empty, samples, a full batch, a reuse, two closes."""
    made: list[Good] = []

    def make():
        made.append(Good())
        return made[-1]

    verify_adapter(make)
    assert [[0, 3, 10, 3], []] == [m.batches for m in made]
    assert [2, 2] == [m.closes for m in made]


def test_kit_accepts_an_async_factory_and_splits_batches_over_max_batch():
    """``make`` may be a coroutine function; more envelopes than max_batch go in several sends."""
    adapter = Good()

    async def make():
        return adapter

    asyncio.run(check_adapter(make, sample_envelopes("webhook", 23)))
    assert [0, 10, 10, 3, 10, 10, 10, 3] == adapter.batches


def test_kit_reports_every_bad_receipt_of_a_batch():
    """All the receipts' problems are listed at once, each naming its envelope."""

    class HalfBad(Good):
        def answer(self, batch):
            return [
                Receipt(outcome=Outcome.SENT, retry_after=1.0) if i % 2 else Receipt.sent()
                for i, _ in enumerate(batch)
            ]

    with pytest.raises(AdapterConformanceError) as caught:
        verify_adapter(HalfBad, sample_envelopes("webhook", 5))
    assert [
        "send() of 5 envelopes: receipt 1 (envelope 'conformance-1') is SENT but carries retry_after (only a retry waits)",
        "send() of 5 envelopes: receipt 3 (envelope 'conformance-3') is SENT but carries retry_after (only a retry waits)",
    ] == list(caught.value.problems)


def test_kit_times_out_a_hanging_send():
    """A send that never answers fails after ``timeout`` instead of hanging the suite."""
    with pytest.raises(AdapterConformanceError, match=r"send\(\[\]\) took over 0.05 s"):
        verify_adapter(Hangs, timeout=0.05)


def test_kit_reports_a_failing_factory_and_a_non_awaitable_send():
    """The factory's own error, and a send that returns no awaitable, are conformance failures."""

    def broken_factory():
        raise OSError("no credentials")

    with pytest.raises(AdapterConformanceError, match=r"make\(\) raised OSError: no credentials"):
        verify_adapter(broken_factory)

    def sneaky():
        adapter = Good()
        adapter.send = lambda _batch: []
        return adapter

    with pytest.raises(AdapterConformanceError, match="returned list, not an awaitable"):
        verify_adapter(sneaky)


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"envelopes": []}, "$.envelopes"),
        ({"envelopes": "abc"}, "$.envelopes"),
        ({"envelopes": [object()]}, "$.envelopes[0]"),
        ({"timeout": 0}, "$.timeout"),
        ({"timeout": float("nan")}, "$.timeout"),
        ({"timeout": True}, "$.timeout"),
    ],
)
def test_kit_validates_its_arguments(kwargs, path):
    """Bad arguments are the caller's mistake: a ValidationError at the argument's path."""
    with pytest.raises(ValidationError) as caught:
        verify_adapter(Good, **kwargs)
    assert path == caught.value.errors[0].path


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"channel": ""}, "$.channel"),
        ({"channel": "sms", "count": -1}, "$.count"),
        ({"channel": "sms", "count": 2.0}, "$.count"),
        ({"channel": "sms", "start": True}, "$.start"),
    ],
)
def test_sample_envelopes_validates_its_arguments(kwargs, path):
    """Each bad argument is reported at its own path."""
    with pytest.raises(ValidationError) as caught:
        sample_envelopes(**kwargs)
    assert path == caught.value.errors[0].path


CONTENT = {
    "email": RenderedEmail,
    "sms": RenderedSms,
    "push": RenderedPush,
    "in_app": RenderedInApp,
    "webhook": dict,
    "ads": RenderedAds,
}


@given(
    st.sampled_from([*SAMPLE_CHANNELS, "any", "carrier_pigeon"]),
    st.integers(0, 20),
    st.integers(0, 10_000),
)
def test_sample_envelopes_are_unique_and_typed_for_their_channel(channel, count, start):
    """Ids and keys are unique, each content is its channel's rendition, ``any`` rotates."""
    found = sample_envelopes(channel, count, start=start)
    assert (
        count == len(found) == len({e.id for e in found}) == len({e.idempotency_key for e in found})
    )
    for envelope in found:
        if channel == "any":
            assert envelope.channel in SAMPLE_CHANNELS
        else:
            assert channel == envelope.channel
        assert isinstance(envelope.content, CONTENT.get(envelope.channel, dict))
    if channel == "any" and count >= len(SAMPLE_CHANNELS):
        assert set(SAMPLE_CHANNELS) == {e.channel for e in found}


class Scripted(Good):
    """Answers each envelope with its scripted outcome, then applies ``order`` to the receipts."""

    outcomes: ClassVar[list[Outcome]] = []
    order: ClassVar[list[int]] = []

    def answer(self, batch):
        receipts = [_receipt(self.outcomes[_index(e)]) for e in batch]
        # Every batch but the empty one holds all the samples (max_batch is their number).
        return [receipts[i] for i in self.order] if receipts else receipts


def _index(envelope: Envelope) -> int:
    # The kit relabels ids for its extra batches; the profile id keeps the sample's number.
    return int(envelope.profile_id.removeprefix("conformance-p"))


def _receipt(outcome: Outcome) -> Receipt:
    if outcome is Outcome.SENT:
        return Receipt.sent("ok")
    return Receipt(outcome=outcome, retry_after=2.0 if outcome.retryable else None)


@given(st.lists(st.sampled_from(Outcome), min_size=1, max_size=6).flatmap(
    lambda outcomes: st.tuples(st.just(outcomes), st.permutations(range(len(outcomes))))
))  # fmt: skip
def test_kit_catches_receipts_out_of_order_exactly_when_outcomes_tell(case):
    """With ``expected``, a permuted answer fails if and only if it changes the outcomes' order."""
    outcomes, order = case

    class Adapter(Scripted):
        capabilities = Capabilities(max_batch=len(outcomes))

    Adapter.outcomes, Adapter.order = outcomes, order
    envelopes = sample_envelopes("webhook", len(outcomes))

    def expected(envelope):
        return outcomes[_index(envelope)]

    if [outcomes[i] for i in order] != outcomes:
        with pytest.raises(AdapterConformanceError, match=r"was expected \(are receipts in"):
            verify_adapter(Adapter, envelopes, expected=expected)
    else:
        verify_adapter(Adapter, envelopes, expected=expected)


def test_conformance_module_imports_without_hypothesis():
    """Plugin authors may use the kit without the testing extra."""
    code = (
        "import sys; sys.modules['hypothesis'] = None\n"
        "from omnichannel.channels.conformance import verify_adapter\n"
        "print('hypothesis' in sys.modules and sys.modules['hypothesis'] is not None)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "False" == out.stdout.strip()


def test_testing_module_re_exports_the_kit():
    """``omnichannel.testing`` offers the same objects as the kit's module."""
    from omnichannel import testing

    assert testing.verify_adapter is verify_adapter
    assert testing.AdapterConformanceError is AdapterConformanceError
    assert {"check_adapter", "registry_check", "sample_envelopes"} <= set(testing.__all__)


# --- the kit against our own adapters --------------------------------------------------------


def test_console_adapter_conforms():
    """Every envelope the kit sends is printed once, one line each."""
    out = io.StringIO()
    verify_adapter(lambda: ConsoleAdapter(out))
    lines = out.getvalue().splitlines()
    assert 3 + 500 + 3 == len(lines)
    assert "email to person0@example.com: Your order #0 has shipped" == lines[0]
    assert "sms to +15555550001: Shop: order #1 has shipped. Reply STOP to opt out." == lines[1]


def test_file_adapter_conforms(tmp_path):
    """Every envelope lands in the outbox file as one JSON line, in the order sent."""
    outbox = tmp_path / "outbox.jsonl"
    envelopes = [e for e in sample_envelopes("any", 12) if e.channel != "push"]
    verify_adapter(lambda: FileAdapter(outbox), envelopes)
    rows = [json.loads(line) for line in outbox.read_text(encoding="utf-8").splitlines()]
    assert 10 + 1000 + 10 == len(rows) == len({r["id"] for r in rows})
    assert ["conformance-0", "conformance-1", "conformance-3", "conformance-4"] == [
        r["id"] for r in rows[:4]
    ]
    assert {"subject": "Your order #0 has shipped"}.items() <= rows[0]["content"].items()


def test_file_adapter_writes_push_messages(tmp_path):
    """A push envelope is an envelope like any other for the outbox file."""
    verify_adapter(lambda: FileAdapter(tmp_path / "outbox.jsonl"), sample_envelopes("push", 1))
    line = json.loads((tmp_path / "outbox.jsonl").read_text().splitlines()[0])
    assert json.loads(line["content"]["payload"])["aps"]["alert"]["title"]


def test_recording_adapter_conforms_with_scripted_outcomes():
    """Scripted failures come back on the right envelopes, whatever the batch."""
    cycle = [Outcome.SENT, Outcome.RETRY, Outcome.OPTED_OUT, Outcome.INVALID_ADDRESS]

    def expected(envelope):
        return cycle[_index(envelope) % len(cycle)]

    recorders: list[RecordingAdapter] = []

    def make():
        recorders.append(RecordingAdapter(answer=lambda e: _receipt(expected(e))))
        return recorders[-1]

    envelopes = sample_envelopes("any", 9)
    verify_adapter(make, envelopes, expected=expected)
    assert [0, 9, 100, 9] == recorders[0].batches
    assert [e.id for e in envelopes] == [e.id for e in recorders[0].sent[:9]]


def test_webhook_adapter_conforms_against_a_real_server():
    """Each envelope is one signed POST; 200, 410 and 429 classify as the kit expects."""
    answers = [
        Reply(status=200, json={"id": "evt"}),
        Reply(status=410, json={"error": "gone"}),
        Reply(status=429, json={"error": "slow down"}, headers={"Retry-After": "7"}),
    ]
    kinds = [Outcome.SENT, Outcome.INVALID_ADDRESS, Outcome.RETRY]

    def handle(request: Recorded) -> Reply:
        return answers[request.json()["n"] % 3]

    def expected(envelope):
        return kinds[envelope.content["n"] % 3]

    envelopes = sample_envelopes("webhook", 4)
    with provider_server() as server:
        server.route("POST", "/hook", handle)
        url = f"webhook+http://127.0.0.1:{server.port}/hook?secret=s3cret"
        verify_adapter(lambda: Registry.discover().create(url), envelopes, expected=expected)
    # max_batch is 1: four single sends, one "full" batch, four again.
    keys = [r.headers["idempotency-key"] for r in server.requests]
    assert [
        "conformance-key-0", "conformance-key-1", "conformance-key-2", "conformance-key-3",
        "conformance-key-0-b0",
        "conformance-key-0-r0", "conformance-key-1-r1", "conformance-key-2-r2", "conformance-key-3-r3",
    ] == keys  # fmt: skip
    for request in server.requests:
        stamp = request.headers[TIMESTAMP_HEADER.lower()]
        signature = request.headers[SIGNATURE_HEADER.lower()]
        assert verify_signature(b"s3cret", request.body, stamp, signature, now=float(stamp))


# --- the registry: built-ins, faulty plugins ---------------------------------------------------


@pytest.mark.parametrize(
    ("name", "qualname"),
    [
        ("console", "omnichannel.channels.local.ConsoleAdapter"),
        ("file", "omnichannel.channels.local.FileAdapter"),
        ("recording", "omnichannel.channels.local.RecordingAdapter"),
        ("webhook", "omnichannel.channels.webhook.WebhookAdapter"),
    ],
)
def test_built_in_adapters_are_entry_points_of_omnichannel(name, qualname):
    """The built-ins are declared like any plugin's, by omnichannel's own distribution."""
    cls = registry_check(name)
    assert qualname == f"{cls.__module__}.{cls.__qualname__}"
    assert [] == check_adapter_class(cls, name=name)
    assert Registry.discover().describe()[name].endswith(")")
    assert " (omnichannel " in Registry.discover().describe()[name]


def test_registry_builds_a_webhook_from_its_url():
    """``webhook+http://`` selects the webhook adapter and keeps the plain http target."""

    async def build():
        adapter = Registry.discover().create("webhook+http://127.0.0.1:9/hook?secret=s")
        try:
            return type(adapter), adapter.url, adapter.secret
        finally:
            await adapter.aclose()

    assert (WebhookAdapter, "http://127.0.0.1:9/hook", b"s") == asyncio.run(build())


def test_unknown_adapters_are_plugin_errors():
    """A name no distribution declares is `PluginError` ``unknown``, from load and create alike."""
    registry = Registry.discover()
    for attempt in (lambda: registry.load("fax"), lambda: registry.create("fax://x")):
        with pytest.raises(PluginError, match="no adapter named 'fax'") as caught:
            attempt()
        assert ("unknown", None) == (caught.value.code, caught.value.distribution)
    with pytest.raises(AdapterConformanceError, match="is the package installed"):
        registry_check("fax")


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("webhook+http://127.0.0.1:9/hook", "required"),
        ("webhook+ftp://127.0.0.1:9/hook?secret=s", "invalid"),
        ("console://localhost:port", "invalid"),
        ("recording://", "unsupported"),
    ],
)
def test_bad_adapter_urls_are_validation_errors_at_url(url, code):
    """A URL its adapter cannot read names ``$.url``."""
    with pytest.raises(ValidationError) as caught:
        Registry.discover().create(url)
    assert ("$.url", code) == (caught.value.errors[0].path, caught.value.errors[0].code)


def _distribution(root: Path, name: str, version: str, entries: dict[str, str]) -> None:
    """A minimal installed distribution: a dist-info with METADATA and entry_points.txt."""
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
    )
    lines = "".join(f"{key} = {value}\n" for key, value in entries.items())
    (info / "entry_points.txt").write_text(f"[omnichannel.channels]\n{lines}", encoding="utf-8")


@pytest.fixture
def faulty_plugins(tmp_path, monkeypatch):
    """Two installed distributions whose adapters are broken, on sys.path for this test only."""
    _distribution(tmp_path, "broken-import-plugin", "1.0", {"broken": "oc_test_broken:Adapter"})
    (tmp_path / "oc_test_broken.py").write_text(
        "raise ImportError('needs libfax, which is not installed')\n", encoding="utf-8"
    )
    _distribution(
        tmp_path,
        "capless-plugin",
        "2.0",
        {"capless": "oc_test_capless:Capless", "misnamed": "oc_test_capless:Misnamed"},
    )
    (tmp_path / "oc_test_capless.py").write_text(
        "class Capless:\n"
        "    name = 'capless'\n"
        "    channel = 'sms'\n"
        "    async def send(self, batch): return []\n"
        "    async def aclose(self): pass\n"
        "class Misnamed(Capless):\n"
        "    name = 'other'\n"
        "    from omnichannel.channels import Capabilities\n"
        "    capabilities = Capabilities()\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield Registry.discover()
    for module in ("oc_test_broken", "oc_test_capless"):
        sys.modules.pop(module, None)


@pytest.mark.parametrize(
    ("name", "code", "distribution", "message"),
    [
        ("broken", "import", "broken-import-plugin 1.0", "ImportError: needs libfax"),
        ("capless", "protocol", "capless-plugin 2.0", "capabilities must be a Capabilities"),
        (
            "misnamed",
            "protocol",
            "capless-plugin 2.0",
            "name is 'other' but the entry point is named 'misnamed'",
        ),
    ],
)
def test_faulty_plugins_name_their_distribution(faulty_plugins, name, code, distribution, message):
    """The registry says which installed package is at fault, and how; so does registry_check."""
    assert {"broken", "capless", "misnamed", "console"} <= set(faulty_plugins.names())
    with pytest.raises(PluginError) as caught:
        faulty_plugins.load(name)
    assert (code, distribution) == (caught.value.code, caught.value.distribution)
    assert message in str(caught.value)
    assert distribution in str(caught.value)
    with pytest.raises(AdapterConformanceError) as checked:
        registry_check(name, registry=faulty_plugins)
    assert distribution in checked.value.problems[0]
    assert f"[{code}]" in checked.value.problems[0]


# --- the echo example, built and installed as a real distribution ------------------------------


def _install(how: str, source: Path, target: Path) -> None:
    """Install ``source`` into ``target`` only: pip, or its build backend and an unzip."""
    if how == "pip":
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
             "--no-build-isolation", "--target", str(target), str(source)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        return
    # uv's environments have no pip: call the PEP 517 hook the example declares, then
    # unpack the pure-Python wheel into the target, which is all an installer does for one.
    wheels = target.parent / "wheels"
    wheels.mkdir()
    built = subprocess.run(
        [sys.executable, "-c", "import sys, hatchling.build as b; print(b.build_wheel(sys.argv[1]))",
         str(wheels)],
        cwd=source, check=True, capture_output=True, text=True,
    )  # fmt: skip
    with zipfile.ZipFile(wheels / built.stdout.split()[-1]) as wheel:
        wheel.extractall(target)


@pytest.fixture(scope="module", params=["pip", "build-backend"])
def echo_install(request, tmp_path_factory):
    """The example copied to a temporary directory and installed into another one."""
    pytest.importorskip(
        "hatchling", reason="the example builds with hatchling: add it to the tests group"
    )
    if request.param == "pip" and importlib.util.find_spec("pip") is None:
        pytest.skip("no pip in this environment (uv): the build-backend install covers it")
    root = tmp_path_factory.mktemp(f"echo-{request.param}")
    source = root / "omnichannel-echo-adapter"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("__pycache__", ".*_cache"))
    site = root / "site"
    _install(request.param, source, site)
    return source, site


PLUGIN_SCRIPT = """
import sys

import pytest
import omnichannel_echo
from omnichannel.channels import Registry
# The kit's own module: omnichannel.testing would import hypothesis before pytest starts.
from omnichannel.channels.conformance import registry_check, verify_adapter

registry = Registry.discover()
assert "echo" in registry.names(), registry.names()
assert registry_check("echo") is registry.load("echo") is omnichannel_echo.EchoAdapter
print("from", omnichannel_echo.__file__)
print("describe", registry.describe()["echo"])
made = []

def make():
    made.append(registry.create("echo://?prefix=sub"))
    return made[-1]

verify_adapter(make)
print("echoed", len(made[0].echoed), made[0].closed, made[0].echoed[0].channel)
sys.stdout.flush()
sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "tests"]))
"""


def test_echo_plugin_installs_is_discovered_and_passes_its_own_tests(echo_install):
    """Installed elsewhere, the example is found by entry point, conforms, and its tests pass."""
    source, site = echo_install
    env = {**os.environ, "PYTHONPATH": str(site), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", PLUGIN_SCRIPT],
        cwd=source, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert 0 == done.returncode, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert f"from {site / 'omnichannel_echo' / '__init__.py'}" == lines[0]
    assert "describe omnichannel_echo:EchoAdapter (omnichannel-echo-adapter 0.1.0)" == lines[1]
    assert "echoed 106 True webhook" == lines[2]
    assert any(line.startswith("10 passed") for line in lines), done.stdout


def test_echo_plugin_is_not_installed_here():
    """The running environment was left alone: only the subprocesses saw the plugin."""
    assert "echo" not in Registry.discover().names()
    assert importlib.util.find_spec("omnichannel_echo") is None


def test_the_adapters_command_lists_and_checks_plugins(faulty_plugins, capsys):
    """`omnichannel adapters` lists every declared adapter; --check names the faulty ones."""
    from omnichannel.cli import main

    assert 0 == main(["adapters"])
    listed = capsys.readouterr().out
    assert "broken-import-plugin 1.0" in listed
    assert "omnichannel.channels.email:SmtpAdapter" in listed
    assert 1 == main(["adapters", "--check"])
    checked = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "FAILED [import]" in checked["broken"]
    assert "needs libfax" in checked["broken"]
    assert "FAILED [protocol]" in checked["capless"]
    assert " ok  email " in checked["smtp"]
    total = len(faulty_plugins.names())
    assert f"{total - 3} of {total} adapters load" in "\n".join(checked.values())
