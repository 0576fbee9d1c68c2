"""The context builder: masking in batches, spill files, summaries inside one long turn,
the fallback summary, last-resort truncation and the window invariant."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from openintern.agent.context import (
    SUMMARY_PREFIX,
    ContextBuilder,
    ContextLimits,
    ContextOverflowError,
    ModelSummarizer,
    Summarizer,
    truncate_tool_output,
)
from openintern.llm.markers import SUMMARY_REQUEST_MARKER
from openintern.llm.script import Script
from openintern.llm.scripted import ScriptedServer
from openintern.llm.types import Message, ToolCall

SYSTEM = "You are a careful ML research agent."
TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "shell",
            "description": "Run a command.",
            "parameters": {"type": "object", "properties": {"command": {"type": "string"}}},
        },
    }
]


class Pinned:
    """A pinned-state source that counts its renders and can change its text."""

    def __init__(self, text: str = "## Plan\n- [ ] audit data") -> None:
        self.text = text
        self.renders = 0

    def __call__(self) -> str:
        self.renders += 1
        return self.text


class History:
    """A session history as the loop keeps it: ids assigned, summaries stored in place."""

    def __init__(self, task: str = "Find the best classifier for data.csv") -> None:
        self.next_id = 1
        self.messages: list[Message] = []
        self.add(Message(role="user", content=task))

    def add(self, message: Message) -> Message:
        message.id = self.next_id
        self.next_id += 1
        self.messages.append(message)
        return message

    def step(self, n: int, output: str, tool: str = "shell") -> None:
        call = ToolCall(id=f"call_{n}", name=tool, arguments=json.dumps({"command": f"run {n}"}))
        self.add(Message(role="assistant", content="", tool_calls=[call]))
        self.add(Message(role="tool", content=output, tool_call_id=call.id, name=tool))

    def apply(self, summary: Message, replaced: list[int]) -> None:
        gone = set(replaced)
        first = next(i for i, m in enumerate(self.messages) if m.id in gone)
        summary.id = self.next_id
        self.next_id += 1
        kept = [m for m in self.messages if m.id not in gone]
        self.messages = [*kept[:first], summary, *kept[first:]]


def output(n: int, size: int = 4000) -> str:
    line = f"step {n}: epoch loss=0.{n:04d} acc=0.{n % 97:02d}\n"
    return (line * (size // len(line) + 1))[:size]


def make_builder(
    tmp_path: Path,
    window: int = 32000,
    summarizer: Summarizer | None = None,
    pinned: Callable[[], str] | None = None,
    **limits: Any,
) -> ContextBuilder:
    return ContextBuilder(
        system_prompt=SYSTEM,
        limits=ContextLimits(window=window, **limits),
        spill_dir=tmp_path / ".openintern" / "spill",
        workspace=tmp_path,
        pinned_state=pinned or Pinned(),
        summarizer=summarizer,
    )


def wire(messages: list[Message]) -> list[str]:
    return [json.dumps(m.to_openai()) for m in messages]


async def summarise_counting(messages: list[Message]) -> str:
    return f"Covered {len(messages)} messages; best accuracy so far 0.91 (run 7)."


# ----- truncation and spill files ---------------------------------------------------------


def test_truncate_keeps_head_and_tail_and_spills_the_full_text(tmp_path: Path) -> None:
    text = "HEAD-" + "x" * 50_000 + "-TAIL"
    spill = tmp_path / ".openintern" / "spill" / "call_1.txt"
    out = truncate_tool_output(text, max_chars=2000, spill_path=spill, workspace=tmp_path)
    assert len(out) <= 2000
    assert out.startswith("HEAD-") and out.endswith("-TAIL")
    assert ".openintern/spill/call_1.txt" in out
    cut = len(text) - len(out.split("\n")[0]) - len(out.split("\n")[-1])
    assert f"{cut:,} characters cut" in out
    assert spill.read_text(encoding="utf-8") == text


def test_short_output_is_unchanged_and_not_spilled(tmp_path: Path) -> None:
    spill = tmp_path / "spill" / "call_2.txt"
    out = truncate_tool_output("exit 0\nok", max_chars=100, spill_path=spill, workspace=tmp_path)
    assert out == "exit 0\nok"
    assert not spill.exists()


# ----- masking in batches ------------------------------------------------------------------


def tool_tokens(messages: list[Message], masked: bool) -> list[int]:
    from openintern.llm.tokens import estimate_openai_message_tokens

    return [
        estimate_openai_message_tokens(m.to_openai())
        for m in messages
        if m.role == "tool" and ("output masked" in m.content) == masked
    ]


async def test_masks_in_batches_and_keeps_the_prefix_byte_identical(tmp_path: Path) -> None:
    builder = make_builder(tmp_path, window=200_000, keep_tokens=3000, batch_tokens=4000)
    history = History()
    previous: list[str] | None = None
    changes: list[int] = []
    for n in range(1, 61):
        history.step(n, output(n, 1500))
        built = await builder.build(history.messages, TOOLS)
        now = wire(built.messages)
        assert built.compaction is None  # far below the threshold: batches only
        changed = previous is not None and now[: len(previous)] != previous
        if changed:
            changes.append(n)
        previous = now
        verbatim = tool_tokens(built.messages, masked=False)
        # The newest outputs are verbatim, within the budget plus one batch; right after
        # a batch is masked, within the budget.
        assert sum(verbatim) <= 3000 + 4000
        if changed:
            assert sum(verbatim) <= 3000
        assert built.messages[-1].content == output(n, 1500)
    # The view changed only when a batch of outputs got masked: a handful of times.
    assert 2 <= len(changes) <= 5
    assert all(later - earlier >= 8 for earlier, later in itertools.pairwise(changes))


async def test_large_outputs_are_masked_sooner_than_small_ones(tmp_path: Path) -> None:
    small = make_builder(tmp_path / "s", window=200_000, keep_tokens=3000, batch_tokens=2000)
    large = make_builder(tmp_path / "l", window=200_000, keep_tokens=3000, batch_tokens=2000)
    few_big, many_small = History(), History()
    for n in range(1, 31):
        many_small.step(n, output(n, 400))
        few_big.step(n, output(n, 12_000))
    small_view = (await small.build(many_small.messages, TOOLS)).messages
    large_view = (await large.build(few_big.messages, TOOLS)).messages
    # 30 outputs of 100 tokens fit the budget; 3,000-token outputs: only the newest.
    assert tool_tokens(small_view, masked=True) == []
    assert len(tool_tokens(small_view, masked=False)) == 30
    assert len(tool_tokens(large_view, masked=False)) == 1
    assert large_view[-1].content == output(30, 12_000)


async def test_masked_stub_names_a_readable_spill_file(tmp_path: Path) -> None:
    builder = make_builder(tmp_path, window=200_000, keep_tokens=3000, batch_tokens=4000)
    history = History()
    for n in range(1, 25):
        history.step(n, output(n, 1500))
    originals = [m.content for m in history.messages]
    built = await builder.build(history.messages, TOOLS)
    stub = next(m for m in built.messages if m.role == "tool")
    assert stub.tool_call_id == "call_1"
    assert "\n" not in stub.content and "masked" in stub.content and "shell" in stub.content
    assert "1,500 chars" in stub.content and '"step 1: epoch' in stub.content
    assert len(stub.content) < 120  # every old step carries one
    path = stub.content.split("full: ")[1].rstrip("]")
    assert path == ".openintern/spill/m3.txt"
    assert (tmp_path / path).read_text(encoding="utf-8") == output(1, 1500)
    # The history's own messages are untouched.
    assert [m.content for m in history.messages] == originals
    # Building again reuses the file and produces the same view.
    again = await builder.build(history.messages, TOOLS)
    assert wire(again.messages) == wire(built.messages)


async def test_reused_call_ids_never_overwrite_each_others_spill(tmp_path: Path) -> None:
    builder = make_builder(tmp_path, window=200_000, keep_tokens=0, batch_tokens=0)
    history = History()
    for n in (1, 2, 3):
        call = ToolCall(id="call_0", name="shell", arguments="{}")
        history.add(Message(role="assistant", tool_calls=[call]))
        history.add(Message(role="tool", content=output(n, 800), tool_call_id="call_0"))
    built = await builder.build(history.messages, TOOLS)
    stubs = [m.content for m in built.messages if "output masked" in m.content]
    paths = [stub.split("full: ")[1].rstrip("]") for stub in stubs]
    assert len(set(paths)) == 2
    assert [(tmp_path / p).read_text(encoding="utf-8") for p in paths] == [
        output(1, 800),
        output(2, 800),
    ]


async def test_cache_breakpoints_sit_on_the_parts_that_stay_identical(tmp_path: Path) -> None:
    """The pinned block and the last masked output are marked; whenever masking moves,
    the new request still starts with the previous request's prefix up to its last
    marked message, so a provider that caches only at breakpoints keeps hitting."""
    builder = make_builder(tmp_path, window=200_000, keep_tokens=2000, batch_tokens=2000)
    history = History()
    previous: list[Message] | None = None
    moves = 0
    for n in range(1, 60):
        history.step(n, output(n, 1500))
        sent = (await builder.build(history.messages, TOOLS)).messages
        marked = [i for i, m in enumerate(sent) if m.cache_breakpoint]
        assert sent[marked[0]].kind == "pinned"
        assert not history.messages[-1].cache_breakpoint  # only copies are marked
        if len(marked) > 1:
            boundary = sent[marked[1]]
            assert boundary.role == "tool" and "output masked" in boundary.content
            assert "output masked" not in sent[marked[1] + 2].content  # the next is verbatim
        if previous is not None:
            last_marked = max(i for i, m in enumerate(previous) if m.cache_breakpoint)
            assert wire(sent[: last_marked + 1]) == wire(previous[: last_marked + 1])
            moves += wire(sent[: len(previous)]) != wire(previous)
        previous = sent
    assert moves >= 3


# ----- compaction inside one long turn ---------------------------------------------------------


async def run_long_turn(
    tmp_path: Path,
    summarizer: Summarizer | None,
    steps: int = 300,
    window: int = 32000,
    size: int = 4000,
    **limits: Any,
) -> tuple[History, list[str], list[Any]]:
    """One user message, then ``steps`` assistant calls with ``size``-character results,
    building after each step and storing summaries as the loop does."""
    builder = make_builder(tmp_path, window=window, summarizer=summarizer, **limits)
    history = History()
    methods: list[str] = []
    last: Any = None
    for n in range(1, steps + 1):
        history.step(n, output(n, size))
        built = await builder.build(history.messages, TOOLS)
        assert built.estimated_tokens <= window - min(4096, window // 4)
        assert built.estimated_tokens == builder_estimate(built.messages)
        if built.compaction is not None:
            methods.append(built.compaction.method)
            if built.compaction.summary is not None:
                history.apply(built.compaction.summary, built.compaction.replaced_ids)
        last = built
    return history, methods, [last]


def builder_estimate(messages: list[Message]) -> int:
    from openintern.llm.tokens import estimate_request_tokens

    return estimate_request_tokens([m.to_openai() for m in messages], TOOLS)


async def test_single_turn_of_300_steps_stays_inside_the_window(tmp_path: Path) -> None:
    history, methods, (last,) = await run_long_turn(tmp_path, summarise_counting)
    assert "mask" in methods and "summary" in methods
    sent = last.messages
    assert sent[0].role == "system" and sent[1].kind == "pinned"
    assert sent[2].content == "Find the best classifier for data.csv"  # the task, verbatim
    summaries = [m for m in sent if m.kind == "summary"]
    assert len(summaries) == 1 and summaries[0].content.startswith(SUMMARY_PREFIX)
    assert "best accuracy so far 0.91" in summaries[0].content
    # The most recent steps are verbatim: the newest outputs, the last call.
    tools = [m for m in sent if m.role == "tool"]
    verbatim = [m.content for m in tools if "output masked" not in m.content]
    assert verbatim and verbatim == [output(n) for n in range(301 - len(verbatim), 301)]
    assert sent[-2].tool_calls[0].id == "call_300"
    # Every call in the request has its result right after it.
    for i, m in enumerate(sent):
        for j, call in enumerate(m.tool_calls):
            assert sent[i + 1 + j].tool_call_id == call.id
    assert len(history.messages) < 300


async def test_failed_summary_falls_back_to_a_deterministic_one(tmp_path: Path) -> None:
    async def broken(messages: list[Message]) -> str:
        raise RuntimeError("provider is down")

    _, methods, (last,) = await run_long_turn(tmp_path, broken, steps=240, budget=4000)
    assert "fallback" in methods and "summary" not in methods
    summary = next(m for m in last.messages if m.kind == "summary")
    assert summary.content.startswith(SUMMARY_PREFIX)
    # The calls made, with their arguments, and the first line of each result.
    assert re.search(r'shell\(\{"command":"run (\d+)"\}\) → step \1: epoch loss=',
                     summary.content)


async def test_summary_failure_is_reported_in_the_outcome(tmp_path: Path) -> None:
    async def empty(messages: list[Message]) -> str:
        return "   "

    builder = make_builder(tmp_path, window=8000, summarizer=empty, budget=1500)
    history = History()
    outcome = None
    for n in range(1, 60):
        history.step(n, output(n, 1200))
        built = await builder.build(history.messages, TOOLS)
        if built.compaction is not None and built.compaction.summary is not None:
            outcome = built.compaction
            break
    assert outcome is not None and outcome.method == "fallback"
    assert outcome.error is not None and "empty" in outcome.error
    assert outcome.messages_summarised == len(outcome.replaced_ids) > 0
    assert outcome.tokens_after < outcome.tokens_before


async def test_summarised_range_folds_in_the_previous_summary(tmp_path: Path) -> None:
    seen: list[list[Message]] = []

    async def recording(messages: list[Message]) -> str:
        seen.append(messages)
        return f"summary number {len(seen)}"

    _, methods, (last,) = await run_long_turn(tmp_path, recording, 200, window=8000, size=1200)
    assert methods.count("summary") == len(seen) >= 2
    for batch in seen:
        assert all(m.kind != "pinned" for m in batch)
        assert batch[0].role != "user" or batch[0].kind == "summary"  # never the task
        assert batch[-1].role == "tool"  # a cut never splits a call from its results
    for later in seen[1:]:
        assert later[0].kind == "summary"  # the previous summary is folded into the new one
    assert "summary number 1" in seen[1][0].content
    summaries = [m for m in last.messages if m.kind == "summary"]
    assert len(summaries) == 1 and f"summary number {len(seen)}" in summaries[0].content


async def test_summaries_never_come_more_often_than_the_floor(tmp_path: Path) -> None:
    builder = make_builder(
        tmp_path, window=32_000, summarizer=summarise_counting, budget=1500, summary_min_steps=20
    )
    history = History()
    summarised_at: list[int] = []
    for n in range(1, 121):
        history.step(n, output(n, 1200))
        built = await builder.build(history.messages, TOOLS)
        assert built.estimated_tokens <= 32_000 - 4096
        if built.compaction is not None and built.compaction.summary is not None:
            summarised_at.append(n)
            history.apply(built.compaction.summary, built.compaction.replaced_ids)
    # Over a tiny budget most steps are over the threshold; summaries still wait 20 steps.
    assert len(summarised_at) >= 3
    assert all(later - earlier >= 20 for earlier, later in itertools.pairwise(summarised_at))


async def test_the_window_overrides_the_summary_floor(tmp_path: Path) -> None:
    builder = make_builder(
        tmp_path, window=8000, summarizer=summarise_counting, summary_min_steps=10_000
    )
    history = History()
    summaries = 0
    for n in range(1, 40):  # long reasoning: nothing masking could shorten
        history.add(Message(role="assistant", content=output(n, 2000)))
        history.add(Message(role="user", content="go on"))
        built = await builder.build(history.messages, TOOLS)
        assert built.estimated_tokens <= 8000 - 2000
        if built.compaction is not None and built.compaction.summary is not None:
            summaries += 1
            history.apply(built.compaction.summary, built.compaction.replaced_ids)
    assert summaries >= 2  # the first comes any time; later ones only the window allows


# ----- pinned state and calibration -----------------------------------------------------------


async def test_pinned_block_rendered_once_then_after_summary_or_refresh(tmp_path: Path) -> None:
    pinned = Pinned()
    builder = make_builder(
        tmp_path, window=8000, summarizer=summarise_counting, pinned=pinned, budget=1500
    )
    history = History()
    history.step(1, "ok")
    first = await builder.build(history.messages, TOOLS)
    assert first.messages[1].content == pinned.text and pinned.renders == 1
    pinned.text = "## Plan\n- [x] audit data"
    for n in range(2, 5):
        history.step(n, "ok")
        built = await builder.build(history.messages, TOOLS)
        assert built.messages[1].content == "## Plan\n- [ ] audit data"
    assert pinned.renders == 1
    builder.refresh_pinned()
    built = await builder.build(history.messages, TOOLS)
    assert built.messages[1].content == pinned.text and pinned.renders == 2
    pinned.text = "## Plan\n- [x] audit data\n- [ ] baseline"
    for n in range(5, 60):
        history.step(n, output(n, 1500))
        built = await builder.build(history.messages, TOOLS)
        if built.compaction is not None and built.compaction.summary is not None:
            break
    assert built.compaction is not None and built.compaction.summary is not None
    assert built.messages[1].content == pinned.text and pinned.renders == 3


async def test_empty_pinned_state_sends_no_pinned_message(tmp_path: Path) -> None:
    builder = make_builder(tmp_path, pinned=lambda: "  ")
    history = History()
    built = await builder.build(history.messages, TOOLS)
    assert [m.role for m in built.messages] == ["system", "user"]
    assert built.messages[1].content == history.messages[0].content


async def test_calibration_raises_estimates_and_triggers_compaction_sooner(tmp_path: Path) -> None:
    builder = make_builder(tmp_path, window=20000, summarizer=summarise_counting, budget=None)
    history = History()
    for n in range(1, 9):  # long reasoning, short outputs: nothing masking could shorten
        history.add(Message(role="assistant", content=output(n, 6000)))
        history.add(Message(role="user", content="go on"))
    built = await builder.build(history.messages, TOOLS)
    assert built.compaction is None
    builder.observe_usage(built.estimated_tokens, int(built.estimated_tokens * 1.4))
    assert builder.calibration == pytest.approx(1.4, rel=0.01)
    again = await builder.build(history.messages, TOOLS)
    assert again.compaction is not None  # the same history is now over the threshold
    assert again.estimated_tokens <= 20000 - 4096
    # Reports below the estimate never lower the factor under 1.
    other = make_builder(tmp_path / "b")
    other.observe_usage(1000, 500)
    assert other.calibration == 1.0


# ----- last resort and impossible requests ------------------------------------------------------


async def test_giant_single_tool_message_is_truncated_with_its_text_spilled(
    tmp_path: Path,
) -> None:
    builder = make_builder(tmp_path, window=16000, summarizer=summarise_counting)
    history = History()
    giant = "BEGIN\n" + "0123456789" * 20_000 + "\nEND"
    history.step(1, giant)
    built = await builder.build(history.messages, TOOLS)
    assert built.compaction is not None and built.compaction.method == "truncate"
    assert built.estimated_tokens <= 16000 - 4000
    result = built.messages[-1]
    assert result.content.startswith("BEGIN") and result.content.endswith("END")
    path = result.content.split("full text: ")[1].split(" ")[0]
    assert (tmp_path / path).read_text(encoding="utf-8") == giant
    assert history.messages[-1].content == giant


async def test_giant_tool_call_arguments_are_elided_as_valid_json(tmp_path: Path) -> None:
    builder = make_builder(tmp_path, window=8000)
    history = History()
    content = "x = 1\n" * 20_000
    call = ToolCall(id="w1", name="write_file", arguments=json.dumps({"content": content}))
    history.add(Message(role="assistant", tool_calls=[call]))
    history.add(Message(role="tool", content="wrote 120000 chars", tool_call_id="w1"))
    built = await builder.build(history.messages, TOOLS)
    assert built.estimated_tokens <= 8000 - 2000
    args = json.loads(built.messages[-2].tool_calls[0].arguments)
    path = args["_elided"].split("full text: ")[1]
    assert json.loads((tmp_path / path).read_text(encoding="utf-8"))["content"] == content


async def test_system_prompt_larger_than_the_window_is_an_overflow(tmp_path: Path) -> None:
    builder = ContextBuilder(
        system_prompt="rules " * 10_000,
        limits=ContextLimits(window=4000),
        spill_dir=tmp_path / "spill",
        workspace=tmp_path,
        pinned_state=Pinned(),
    )
    with pytest.raises(ContextOverflowError, match="larger context window"):
        await builder.build(History().messages, TOOLS)


async def test_many_small_messages_that_cannot_fit_are_an_overflow(tmp_path: Path) -> None:
    # Hundreds of short user messages: nothing to mask, nothing long enough to cut, and no
    # assistant step to cut a summary before.
    builder = make_builder(tmp_path, window=4000, summarizer=summarise_counting)
    history = History()
    for n in range(400):
        history.add(Message(role="user", content=f"note {n}: " + "y" * 200))
    with pytest.raises(ContextOverflowError, match="after compaction"):
        await builder.build(history.messages, TOOLS)


# ----- the default model summariser, over HTTP ---------------------------------------------------


@pytest.fixture
def server() -> Iterator[Callable[..., ScriptedServer]]:
    started: list[ScriptedServer] = []

    def start(**options: Any) -> ScriptedServer:
        s = ScriptedServer(Script.from_steps([{"text": "never used"}]), **options).start()
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


def scripted_client(server: ScriptedServer, window: int) -> Any:
    from openintern.llm.client import LiteLLMClient

    return LiteLLMClient(
        "openai/scripted",
        api_base=server.base_url,
        api_key="test",
        max_retries=0,
        context_window_override=window,
    )


async def test_model_summarizer_sends_a_capped_transcript_without_tools(
    server: Callable[..., ScriptedServer],
) -> None:
    srv = server()
    summarizer = ModelSummarizer(scripted_client(srv, 8000), max_tokens=512)
    history = History()
    for n in range(1, 40):
        history.step(n, output(n, 4000))
    text = await summarizer(history.messages)
    assert text.strip()
    request = srv.requests[-1]
    assert not request.get("tools")
    assert [m["role"] for m in request["messages"]] == ["system", "user"]
    user = request["messages"][1]["content"]
    assert user.startswith(SUMMARY_REQUEST_MARKER + "\n")
    assert "run 39" in user  # the latest work is in the transcript
    assert len(user) < (8000 - 512) * 4  # capped to fit the summariser's window


async def test_model_summarizer_failure_makes_the_builder_fall_back(
    tmp_path: Path, server: Callable[..., ScriptedServer]
) -> None:
    srv = server(fail_summaries=True)
    summarizer = ModelSummarizer(scripted_client(srv, 8000), timeout_s=30)
    with pytest.raises(Exception):  # noqa: B017 - whatever the client raises
        await summarizer([Message(role="user", content="task")])
    builder = make_builder(tmp_path, window=8000, summarizer=summarizer, budget=1500)
    history = History()
    for n in range(1, 60):
        history.step(n, output(n, 1200))
        built = await builder.build(history.messages, TOOLS)
        if built.compaction is not None and built.compaction.summary is not None:
            assert built.compaction.method == "fallback"
            assert built.estimated_tokens <= 8000 - 2000
            return
    raise AssertionError("no summary compaction happened")


async def test_requested_compaction_summarises_under_the_threshold(tmp_path: Path) -> None:
    builder = make_builder(tmp_path, window=200_000, summarizer=summarise_counting)
    history = History()
    for n in range(1, 21):
        history.step(n, output(n, 1500))
    quiet = await builder.build(history.messages, TOOLS)
    assert quiet.compaction is None
    builder.request_compaction()
    built = await builder.build(history.messages, TOOLS)
    outcome = built.compaction
    assert outcome is not None and outcome.method == "summary" and outcome.summary is not None
    assert outcome.tokens_after < outcome.tokens_before
    assert built.messages[2].content == history.messages[0].content
    assert built.messages[3].kind == "summary"
    history.apply(outcome.summary, outcome.replaced_ids)
    # One request only: the next build does not compact again.
    assert (await builder.build(history.messages, TOOLS)).compaction is None


@pytest.mark.parametrize("seed", range(12))
async def test_random_sessions_never_exceed_the_window(tmp_path: Path, seed: int) -> None:
    """Mixed sessions (parallel calls, giant outputs and arguments, user messages, flaky
    summaries, drifting calibration): every request fits or overflow is reported."""
    import random

    rng = random.Random(seed)
    window = rng.choice([4000, 8000, 16000, 32000])

    async def flaky(messages: list[Message]) -> str:
        roll = rng.random()
        if roll < 0.3:
            raise RuntimeError("provider error")
        return "s" * rng.randint(0, 60_000) if roll < 0.4 else "summary " * rng.randint(1, 300)

    builder = make_builder(
        tmp_path,
        window=window,
        summarizer=flaky,
        pinned=lambda: "pinned fact\n" * rng.randint(0, 200),
        keep_tokens=rng.randint(0, 4000),
        batch_tokens=rng.randint(0, 4000),
        budget=rng.choice([None, 1000, 16_000]),
        summary_min_steps=rng.choice([1, 5, 20]),
    )
    history = History("task " * rng.randint(1, 300))
    limit = window - min(4096, window // 4)
    for n in range(rng.randint(30, 150)):
        if rng.random() < 0.05:
            history.add(Message(role="user", content="u" * rng.randint(1, 3000)))
        calls = [
            ToolCall(id=f"c{n}_{k}", name="shell", arguments=json.dumps({"a": "x" * size}))
            for k, size in enumerate(rng.choices([10, 100, 5000], k=rng.choice([0, 1, 1, 2, 3])))
        ]
        history.add(
            Message(role="assistant", content="t" * rng.choice([0, 50, 2000]), tool_calls=calls)
        )
        for c in calls:
            size = rng.choice([10, 500, 4000, 16000, 100, 60000 if rng.random() < 0.2 else 100])
            history.add(Message(role="tool", content="o" * size, tool_call_id=c.id, name="shell"))
        if rng.random() < 0.1:
            builder.observe_usage(1000, int(1000 * rng.uniform(0.5, 1.6)))
        built = await builder.build(history.messages, TOOLS)
        assert builder_estimate(built.messages) <= built.estimated_tokens <= limit
        sent = built.messages
        for i, m in enumerate(sent):
            for j, call in enumerate(m.tool_calls):
                assert sent[i + 1 + j].tool_call_id == call.id
        if built.compaction is not None and built.compaction.summary is not None:
            history.apply(built.compaction.summary, built.compaction.replaced_ids)
