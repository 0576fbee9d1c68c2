"""Guards: doom loops, malformed and duplicate tool calls, dangling and orphan results,
approvals and the budget."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel, Field

from openintern.agent.guards import (
    DANGLING_RESULT_TEXT,
    AutoApprover,
    BudgetGuard,
    DenyingApprover,
    DoomLoopDetector,
    check_calls,
    dedupe_call_ids,
    orphan_results,
    plan_repairs,
    repair_dangling,
    repair_history,
)
from openintern.events import ApprovalRequested
from openintern.llm.types import Message, ToolCall
from openintern.tools.base import Tool, ToolContext, ToolRegistry, ToolResult


class ReadParams(BaseModel):
    path: str = Field(description="File to read.")
    max_lines: int = Field(200, ge=1)


class ReadFile(Tool[ReadParams]):
    """Read a text file."""

    name = "read_file"

    async def run(self, params: ReadParams, ctx: ToolContext) -> ToolResult:
        return ToolResult(text="")


REGISTRY = ToolRegistry([ReadFile()])


def call(name: str = "read_file", args: object = None, call_id: str = "c1") -> ToolCall:
    text = args if isinstance(args, str) else json.dumps(args if args is not None else {})
    return ToolCall(id=call_id, name=name, arguments=text)


def step(path: str) -> list[ToolCall]:
    return [call(args={"path": path}, call_id=f"id-{path}")]


# ----- doom loops ------------------------------------------------------------------------


def test_same_call_three_times_fires_once_per_episode_and_rearms() -> None:
    detector = DoomLoopDetector()
    assert detector.observe(step("a.txt")) is None
    assert detector.observe(step("a.txt")) is None
    nudge = detector.observe(step("a.txt"))
    assert nudge is not None and "read_file" in nudge and "a.txt" in nudge
    # The same pattern continuing does not nag again.
    assert detector.observe(step("a.txt")) is None
    assert detector.observe(step("a.txt")) is None
    # A different step breaks it; the detector re-arms and fires on the next episode.
    assert detector.observe(step("b.txt")) is None
    assert detector.observe(step("a.txt")) is None
    assert detector.observe(step("a.txt")) is None
    assert detector.observe(step("a.txt")) is not None


def test_argument_spacing_and_key_order_do_not_hide_a_repeat() -> None:
    detector = DoomLoopDetector()
    variants = [
        '{"path": "x", "max_lines": 5}',
        '{"max_lines":5,"path":"x"}',
        '{ "path" : "x" , "max_lines" : 5 }',
    ]
    results = [detector.observe([call(args=v, call_id=f"c{i}")]) for i, v in enumerate(variants)]
    assert results[:2] == [None, None] and results[2] is not None


def test_two_step_cycle_is_detected() -> None:
    detector = DoomLoopDetector()
    seen = [detector.observe(step(p)) for p in ["a", "b", "a", "b", "a"]]
    assert seen == [None] * 5
    nudge = detector.observe(step("b"))
    assert nudge is not None and "cycle of 2 steps" in nudge
    assert detector.observe(step("a")) is None  # continuing the cycle: silent


def test_three_step_cycle_and_varied_work_do_not_false_alarm() -> None:
    detector = DoomLoopDetector()
    assert all(detector.observe(step(f"file{i}")) is None for i in range(20))
    out = [detector.observe(step(p)) for p in ["a", "b", "c"] * 3]
    assert out[:-1] == [None] * 8 and out[-1] is not None and "cycle of 3" in out[-1]


def test_invalid_json_arguments_repeat_by_raw_text_and_text_only_steps_break() -> None:
    detector = DoomLoopDetector()
    bad = [call(args="{not json", call_id="x")]
    assert detector.observe(bad) is None
    assert detector.observe([]) is None  # a step without calls breaks the run
    assert detector.observe(bad) is None
    assert detector.observe(bad) is None
    assert detector.observe(bad) is not None


# ----- malformed calls -----------------------------------------------------------------------


def test_valid_call_is_parsed() -> None:
    (checked,) = check_calls([call(args={"path": "data.csv"})], REGISTRY)
    assert checked.error is None and isinstance(checked.tool, ReadFile)
    assert isinstance(checked.params, ReadParams) and checked.params.path == "data.csv"


@pytest.mark.parametrize(
    ("tool_call", "expected"),
    [
        (call(name="browse", args={"url": "x"}), "unknown tool 'browse'"),
        (call(name="  ", args={}), "empty tool name"),
        (call(args='{"path": "a.txt"'), "not valid JSON"),
        (call(args='["a.txt"]'), "must be a JSON object"),
        (call(args="null"), "must be a JSON object"),
        (call(args={}), "path"),
        (call(args={"path": "a", "max_lines": 0}), "max_lines"),
    ],
)
def test_bad_calls_get_an_error_text_instead_of_running(tool_call: ToolCall, expected: str) -> None:
    (checked,) = check_calls([tool_call], REGISTRY)
    assert checked.params is None
    assert checked.error is not None and expected in checked.error
    # What the model reads says ERROR once, never "ERROR: ERROR: ...".
    text = ToolResult.error(checked.error).text
    assert text.startswith("ERROR: ") and "ERROR: ERROR" not in text
    if "unknown" in expected or "empty" in expected:
        assert "read_file" in checked.error  # tells the model what it can call


def test_duplicate_and_empty_call_ids_get_fresh_unique_ids() -> None:
    calls = [
        call(args={"path": "a"}, call_id="dup"),
        call(args={"path": "b"}, call_id="dup"),
        call(args={"path": "c"}, call_id=""),
    ]
    checked = check_calls(calls, REGISTRY)
    ids = [c.call.id for c in checked]
    assert ids[0] == "dup" and len(set(ids)) == 3 and all(ids)
    assert [c.call.arguments for c in checked] == [c.arguments for c in calls]
    assert [c.id for c in calls] == ["dup", "dup", ""]  # the input is not changed
    assert [c.id for c in dedupe_call_ids([call(call_id="a"), call(call_id="b")])] == ["a", "b"]


# ----- dangling and orphan results -------------------------------------------------------------


def assistant(*ids: str) -> Message:
    return Message(role="assistant", tool_calls=[call(args={"path": i}, call_id=i) for i in ids])


def result(call_id: str) -> Message:
    return Message(role="tool", content="ok", tool_call_id=call_id, name="read_file")


def test_repair_adds_only_the_missing_results_of_a_partly_answered_step() -> None:
    history = [Message(role="user", content="task"), assistant("a", "b", "c"), result("a")]
    repairs = repair_dangling(history)
    assert [m.tool_call_id for m in repairs] == ["b", "c"]
    assert all(m.role == "tool" and m.content == DANGLING_RESULT_TEXT for m in repairs)
    assert all(m.name == "read_file" for m in repairs)
    assert orphan_results([*history, *repairs]) == []


def test_repair_of_a_step_with_no_results_and_of_a_complete_history() -> None:
    history = [Message(role="user", content="task"), assistant("a", "b")]
    assert [m.tool_call_id for m in repair_dangling(history)] == ["a", "b"]
    complete = [*history, result("a"), result("b"), Message(role="assistant", content="done")]
    assert repair_dangling(complete) == [] and orphan_results(complete) == []


def test_dangling_call_before_a_later_user_message_is_inserted_in_place() -> None:
    history = [
        Message(role="user", content="task"),
        assistant("a", "b"),
        result("a"),
        Message(role="user", content="stop, try something else"),
    ]
    assert [(i, m.tool_call_id) for i, m in plan_repairs(history)] == [(3, "b")]
    fixed = repair_history(history)
    assert [m.tool_call_id for m in fixed] == [None, None, "a", "b", None]
    assert fixed[3].content == DANGLING_RESULT_TEXT
    assert len(history) == 4  # the input is not changed


def test_orphan_results_are_reported_and_dropped() -> None:
    history = [
        Message(role="user", content="task"),
        result("ghost"),  # no call before it
        assistant("a"),
        result("a"),
        result("a"),  # a second result for the same call
        result("zzz"),  # a result for a call this step never made
        Message(role="user", content="more"),
        result("a"),  # not right after its call
    ]
    assert orphan_results(history) == [1, 4, 5, 7]
    fixed = repair_history(history)
    assert [m.tool_call_id for m in fixed if m.role == "tool"] == ["a"]


# ----- approvals and budget --------------------------------------------------------------------


async def test_auto_approver_approves_and_denying_approver_explains() -> None:
    request = ApprovalRequested(
        request_id="c1", name="submit_job", arguments={"gpus": 8}, reason="costs money"
    )
    assert await AutoApprover().approve(request) is True
    denier = DenyingApprover()
    assert await denier.approve(request) is False
    assert denier.last_reason == denier.reason(request)
    assert "submit_job needs approval (costs money)" in denier.last_reason
    assert "headless" in denier.last_reason and "--yes" in denier.last_reason


def test_budget_guard() -> None:
    unlimited = BudgetGuard(None)
    assert not unlimited.exceeded(1e9) and unlimited.remaining(5.0) is None
    budget = BudgetGuard(2.0)
    assert not budget.exceeded(1.99) and budget.remaining(1.5) == pytest.approx(0.5)
    assert budget.exceeded(2.0) and budget.exceeded(3.0) and budget.remaining(3.0) == 0.0
    free = BudgetGuard(0.0)
    assert not free.exceeded(0.0) and free.exceeded(0.01)
    with pytest.raises(ValueError, match="zero or more"):
        BudgetGuard(-1.0)
