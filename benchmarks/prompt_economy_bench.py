"""Prompt economy benchmark (issue 16): what a long session is billed for, not only sent.

A scripted model answers every request with one shell call that prints K bytes (a
different log file each step), for N counted steps in one headless turn; the last step
ends the turn. The whole stack runs for real (LiteLLM over HTTP to the scripted server).
The session's model id names Claude (``openai/claude-scripted``), so the client puts
Anthropic ``cache_control`` breakpoints on the wire exactly as it would for Claude, and
the benchmark sees them in the recorded requests.

For every request it records:
- prompt tokens (the project's estimator, the scripted server's own count);
- the prefix shared byte-for-byte with the previous request of the same kind (what
  automatic provider caching can reuse; cache markers are stripped before comparing);
- Anthropic billing: a cache simulated from the breakpoints actually sent (a hit is the
  longest prefix, ending at a block within 20 blocks before a breakpoint, that an earlier
  request wrote at one of its breakpoints; prefixes under 1,024 tokens are not cached);
  reads cost 0.1x, writes 1.25x, uncached input 1x;
- OpenAI billing: the shared prefix in whole 128-token chunks (none under 1,024 tokens)
  at 0.5x, the rest 1x;
- summary calls (requests carrying the summarisation marker) and their tokens.

"Billed-equivalent" numbers are input-token equivalents: prompt tokens weighted as above,
plus completion tokens at the output/input price ratio (Claude Sonnet 5x, GPT-5 8x). The
scripted summaries are short, so real summary calls cost more output than shown here.

Run: python benchmarks/prompt_economy_bench.py [--steps 300] [--sizes 4096,12288]
     [--windows 200000,32000] [--json prompt-economy.json]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from rich.console import Console
from rich.table import Table

from openintern.agent.session import ResearchSession, SessionOptions
from openintern.config import Settings
from openintern.events import Compaction, EventBase
from openintern.llm.script import ScriptedToolCall, Step
from openintern.llm.scripted import ScriptedServer, is_summary_request
from openintern.llm.tokens import estimate_openai_message_tokens, estimate_tokens

MODEL = "openai/claude-scripted"  # "claude" in the id: the client adds Anthropic markers
FILES = 50
ANTHROPIC_READ, ANTHROPIC_WRITE = 0.1, 1.25
ANTHROPIC_OUTPUT = 5.0  # Claude Sonnet: $15 / $3 per million tokens
OPENAI_CACHED = 0.5
OPENAI_OUTPUT = 8.0  # GPT-5: $10 / $1.25 per million tokens
MIN_CACHEABLE = 1024
OPENAI_CHUNK = 128
LOOKBACK_BLOCKS = 20


# ----- the scripted session ----------------------------------------------------------------


def write_outputs(workspace: Path, size: int) -> None:
    """``FILES`` log-like files of exactly ``size`` bytes each, all different."""
    logs = workspace / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for f in range(FILES):
        lines: list[str] = []
        i = 0
        while sum(len(x) for x in lines) < size:
            loss = 1 / (i + f + 1)
            lines.append(f"run={f:02d} step={i:05d} loss={loss:.6f} acc={1 - loss:.6f} lr=3e-4\n")
            i += 1
        (logs / f"out_{f:02d}.log").write_text("".join(lines)[:size])


class ShellResponder:
    """Step ``i`` prints ``logs/out_{i % FILES}.log`` with one shell call; the last step
    (index ``steps - 1``) answers in text, ending the turn."""

    def __init__(self, steps: int) -> None:
        self.steps = steps

    def __call__(self, body: dict[str, Any], index: int) -> Step:
        """The reply to counted step ``index``."""
        if index >= self.steps - 1:
            return Step(text=f"Printed {self.steps - 1} logs; done.")
        path = f"logs/out_{index % FILES:02d}.log"
        return Step(
            text=f"Step {index}: printing {path}.",
            tool_calls=[ScriptedToolCall(name="shell", arguments={"command": f"cat {path}"})],
        )


class RecordingServer(ScriptedServer):
    """The scripted server, also keeping the usage it reported for each request."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.usages: list[dict[str, Any]] = []

    def decide(self, body: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        """Answer as the scripted server does; remember the usage (requests come one at
        a time in a session, so the order matches ``requests``)."""
        reply, usage = super().decide(body)
        self.usages.append(usage)
        return reply, usage


@dataclass
class Run:
    """What one session sent and what it did."""

    size: int
    window: int
    steps: int
    finished_steps: int
    stop_reason: str
    wall_s: float
    requests: list[dict[str, Any]]
    usages: list[dict[str, Any]]  # the usage the server reported for each request
    compactions: dict[str, int]


def run_session(size: int, window: int, steps: int) -> Run:
    """One headless session of ``steps`` counted steps printing ``size`` bytes each."""
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["OPENINTERN_DATA_DIR"] = str(Path(tmp) / "data")
        ws = Path(tmp) / "ws"
        write_outputs(ws, size)
        events: list[EventBase] = []
        with RecordingServer(ShellResponder(steps), context_window=window) as server:
            settings = Settings(
                model=MODEL,
                api_base=server.base_url,
                api_key="bench",
                workspace=ws,
                context_window=window,  # type: ignore[arg-type]
                max_iterations=steps,
                sandbox="none",
                _env_file=None,  # type: ignore[call-arg]
            )
            session = ResearchSession.create(
                settings, "print every log", options=SessionOptions(headless=True)
            )
            session.bus.subscribe(events.append)
            start = time.perf_counter()
            result = asyncio.run(session.run("print every log"))
            wall = time.perf_counter() - start
            session.close()
            requests = list(server.requests)
            usages = list(server.usages)
    compactions: dict[str, int] = {}
    for e in events:
        if isinstance(e, Compaction):
            compactions[e.method] = compactions.get(e.method, 0) + 1
    return Run(
        size=size,
        window=window,
        steps=steps,
        finished_steps=result.iterations,
        stop_reason=result.reason,
        wall_s=wall,
        requests=requests,
        usages=usages,
        compactions=compactions,
    )


# ----- what each request is billed ---------------------------------------------------------


def _plain(message: dict[str, Any]) -> dict[str, Any]:
    """The message without cache markers, content blocks joined: what both providers
    tokenise the same whether or not a breakpoint sits on it."""
    out = dict(message)
    content = out.get("content")
    if isinstance(content, list):
        out["content"] = "".join(
            b.get("text", "") for b in content if isinstance(b, dict)
        )
    out.pop("cache_control", None)
    return out


def _has_marker(message: dict[str, Any]) -> bool:
    content = message.get("content")
    blocks = content if isinstance(content, list) else []
    return "cache_control" in message or any(
        isinstance(b, dict) and "cache_control" in b for b in blocks
    )


@dataclass
class Blocks:
    """A request as the cacheable blocks providers see, in order: tools, then messages."""

    texts: list[str]  # canonical JSON of each block
    tokens: list[int]
    breakpoints: list[int]  # indexes of blocks carrying an Anthropic cache marker

    @classmethod
    def of(cls, body: dict[str, Any]) -> Blocks:
        """The blocks of a recorded request body."""
        texts: list[str] = []
        tokens: list[int] = []
        tools = body.get("tools") or []
        if tools:
            texts.append(json.dumps(tools, separators=(",", ":"), sort_keys=True))
            tokens.append(estimate_tokens(json.dumps(tools, separators=(",", ":"))))
        breakpoints: list[int] = []
        for m in body.get("messages") or []:
            plain = _plain(m)
            if _has_marker(m):
                breakpoints.append(len(texts))
            texts.append(json.dumps(plain, sort_keys=True))
            tokens.append(estimate_openai_message_tokens(plain))
        return cls(texts, tokens, breakpoints)

    def prefix_hashes(self) -> list[str]:
        """hash of blocks[0..i] for each i."""
        h = hashlib.sha256()
        out: list[str] = []
        for text in self.texts:
            h.update(text.encode("utf-8", "replace") + b"\x00")
            out.append(h.copy().hexdigest())
        return out

    def shared_prefix_tokens(self, previous: Blocks | None) -> int:
        """Tokens of the byte-identical prefix with ``previous``: whole equal blocks plus
        the common start of the first differing one."""
        if previous is None:
            return 0
        shared = 0
        for new, old, tokens in zip(self.texts, previous.texts, self.tokens, strict=False):
            if new == old:
                shared += tokens
                continue
            common = next((i for i, (a, b) in enumerate(zip(new, old, strict=False)) if a != b),
                          min(len(new), len(old)))
            return shared + min(tokens, common // 4)
        return shared


@dataclass
class Billed:
    """The billing of one request."""

    kind: str  # "step" or "summary"
    prompt_tokens: int
    completion_tokens: int
    shared_prefix_tokens: int
    anthropic_read: int
    anthropic_write: int
    anthropic_uncached: int
    openai_cached: int

    @property
    def anthropic_equivalent(self) -> float:
        """Input-token equivalents billed under Anthropic cache pricing."""
        return (
            ANTHROPIC_READ * self.anthropic_read
            + ANTHROPIC_WRITE * self.anthropic_write
            + self.anthropic_uncached
            + ANTHROPIC_OUTPUT * self.completion_tokens
        )

    @property
    def openai_equivalent(self) -> float:
        """Input-token equivalents billed under OpenAI cached-input pricing."""
        return (
            self.prompt_tokens
            - (1 - OPENAI_CACHED) * self.openai_cached
            + OPENAI_OUTPUT * self.completion_tokens
        )


@dataclass
class AnthropicCache:
    """Prefixes written at earlier requests' breakpoints (TTL ignored: steps are fast)."""

    written: set[str] = field(default_factory=set)

    def bill(self, blocks: Blocks) -> tuple[int, int, int]:
        """(read, write, uncached) tokens of a request, then remember what it wrote."""
        hashes = blocks.prefix_hashes()
        cumulative: list[int] = []
        total = 0
        for t in blocks.tokens:
            total += t
            cumulative.append(total)
        read_end = -1  # index of the last block read from the cache
        for b in blocks.breakpoints:
            for j in range(b, max(-1, b - LOOKBACK_BLOCKS - 1), -1):
                if hashes[j] in self.written and cumulative[j] >= MIN_CACHEABLE:
                    read_end = max(read_end, j)
                    break
        read = cumulative[read_end] if read_end >= 0 else 0
        last = max(blocks.breakpoints, default=-1)
        if last >= 0 and cumulative[last] >= MIN_CACHEABLE:
            write = max(0, cumulative[last] - read)
            for b in blocks.breakpoints:
                if cumulative[b] >= MIN_CACHEABLE:
                    self.written.add(hashes[b])
        else:
            write = 0
        uncached = total - read - write
        return read, write, uncached


def bill_requests(requests: list[dict[str, Any]]) -> list[Billed]:
    """Billing of every request, in order (steps and summary calls share one cache)."""
    cache = AnthropicCache()
    previous: dict[str, Blocks] = {}
    out: list[Billed] = []
    for body in requests:
        kind = "summary" if is_summary_request(body.get("messages") or []) else "step"
        blocks = Blocks.of(body)
        shared = blocks.shared_prefix_tokens(previous.get(kind))
        previous[kind] = blocks
        prompt = sum(blocks.tokens)
        read, write, uncached = cache.bill(blocks)
        openai_cached = 0
        if prompt >= MIN_CACHEABLE:
            openai_cached = (shared // OPENAI_CHUNK) * OPENAI_CHUNK
        out.append(
            Billed(
                kind=kind,
                prompt_tokens=prompt,
                completion_tokens=0,
                shared_prefix_tokens=shared,
                anthropic_read=read,
                anthropic_write=write,
                anthropic_uncached=uncached,
                openai_cached=openai_cached,
            )
        )
    return out


# ----- report ----------------------------------------------------------------------------


def summarise(run: Run) -> dict[str, Any]:
    """The measures of one run, per counted step where it says so."""
    billed = bill_requests(run.requests)
    for b, usage in zip(billed, run.usages, strict=True):
        b.completion_tokens = int(usage.get("completion_tokens", 0))
    steps = [b for b in billed if b.kind == "step"]
    summaries = [b for b in billed if b.kind == "summary"]
    n = max(1, len(steps))
    prompt = sum(b.prompt_tokens for b in steps)
    return {
        "size_bytes": run.size,
        "window": run.window,
        "steps_asked": run.steps,
        "steps_finished": run.finished_steps,
        "stop_reason": run.stop_reason,
        "wall_s": round(run.wall_s, 2),
        "tool_spec_tokens": Blocks.of(run.requests[0]).tokens[0] if run.requests else 0,
        "prompt_tokens_per_step": prompt / n,
        "peak_prompt_tokens": max((b.prompt_tokens for b in steps), default=0),
        "shared_prefix_share": sum(b.shared_prefix_tokens for b in steps) / max(1, prompt),
        "anthropic_read_share": sum(b.anthropic_read for b in steps) / max(1, prompt),
        "summary_calls": len(summaries),
        "summary_prompt_tokens": sum(b.prompt_tokens for b in summaries),
        "summary_completion_tokens": sum(b.completion_tokens for b in summaries),
        "compactions": run.compactions,
        "uncached_equivalent_per_step": sum(
            b.prompt_tokens + ANTHROPIC_OUTPUT * b.completion_tokens for b in billed
        ) / n,
        "anthropic_equivalent_per_step": sum(b.anthropic_equivalent for b in billed) / n,
        "openai_equivalent_per_step": sum(b.openai_equivalent for b in billed) / n,
        "requests": [asdict(b) for b in billed],
    }


def print_table(results: list[dict[str, Any]], label: str) -> None:
    """One row per (K, window)."""
    table = Table(title=f"Prompt economy ({label}): per counted step unless noted")
    for col in (
        "K / window",
        "steps",
        "prompt tok/step",
        "peak",
        "shared prefix",
        "Anthropic read",
        "summaries",
        "summary tok",
        "Anthropic billed-eq/step",
        "OpenAI billed-eq/step",
        "tool specs",
    ):
        table.add_column(col, justify="right")
    for r in results:
        table.add_row(
            f"{r['size_bytes'] // 1024} KB / {r['window'] // 1000} k",
            f"{r['steps_finished']}/{r['steps_asked']}",
            f"{r['prompt_tokens_per_step'] / 1000:.1f} k",
            f"{r['peak_prompt_tokens'] / 1000:.1f} k",
            f"{100 * r['shared_prefix_share']:.0f}%",
            f"{100 * r['anthropic_read_share']:.0f}%",
            str(r["summary_calls"]),
            f"{(r['summary_prompt_tokens'] + r['summary_completion_tokens']) / 1000:.1f} k",
            f"{r['anthropic_equivalent_per_step'] / 1000:.1f} k",
            f"{r['openai_equivalent_per_step'] / 1000:.1f} k",
            f"{r['tool_spec_tokens']:,}",
        )
    # Wide enough to stay readable when piped to a log (rich assumes 80 columns then).
    Console(width=max(170, Console().width)).print(table)


def main() -> None:
    """Run every (K, window) pair, print the table, write the JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--sizes", default="4096,12288", help="bytes printed per step")
    parser.add_argument("--windows", default="200000,32000", help="context windows, tokens")
    parser.add_argument("--json", type=Path, default=Path("prompt-economy.json"))
    parser.add_argument("--label", default="this tree")
    args = parser.parse_args()
    results: list[dict[str, Any]] = []
    for window in (int(w) for w in args.windows.split(",")):
        for size in (int(s) for s in args.sizes.split(",")):
            results.append(summarise(run_session(size, window, args.steps)))
    print_table(results, args.label)
    args.json.write_text(json.dumps({"label": args.label, "results": results}, indent=1))
    Console().print(f"per-request records written to {args.json}")


if __name__ == "__main__":
    main()
