"""Web app benchmark (issue 5), against the scripted model server.

Prints a table with:
- event latency from the loop to an SSE client: the event's ``ts`` (set when the loop
  emits it) to the moment the client parsed it, median and p95, one session alone;
- the server holding N (default 20) concurrent streaming sessions, each watched by an SSE
  client: server RSS (peak), server CPU (seconds and % of one core over the run), wall
  time, and events dropped (every stored event of every session must reach its client,
  once, in order: checked against the store).

- a session page with 10,000 stored events opened in headless Chromium (Debian
  ``chromium`` through Playwright): navigation start → caught up with the store (every
  event drawn) and → interactive (painted, main thread free), median and worst of
  several loads; the target is under 1 s.

The server runs in a child process (``--serve``) so its memory and CPU are its own.

Run: python benchmarks/web_bench.py [--sessions 20] [--steps 8] [--page-events 10000]
     python benchmarks/web_bench.py --page-only      # just the 10,000-event page
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import httpx
from rich.console import Console
from rich.table import Table

from openintern.agent.session import open_store
from openintern.config import Settings
from openintern.llm.script import Script
from openintern.llm.scripted import ScriptedServer

TOKEN = "bench-token"


def settings_for(model_url: str, workspace: Path) -> Settings:
    """Settings of the served sessions: scripted model, no sandbox, auto-approve."""
    return Settings(model="openai/scripted", api_base=model_url, api_key="x",
                    workspace=workspace, sandbox="none", auto_approve=True)


def serve(port: int, model_url: str, workspace: Path) -> None:
    """The child: the web app on 127.0.0.1:port until killed."""
    import uvicorn

    from openintern.web.app import create_app

    app = create_app(settings_for(model_url, workspace), TOKEN)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def tool_step(i: int) -> dict[str, Any]:
    return {"text": f"Step {i}: writing a file.",
            "tool_calls": [{"name": "write_file",
                            "arguments": {"path": f"f{i % 50}.txt", "content": "x" * 200}}]}


def proc_sample(pid: int) -> tuple[int, float]:
    """(RSS bytes, CPU seconds) of a process, from /proc."""
    rss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) * 1024
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return rss, (int(fields[11]) + int(fields[12])) / ticks


async def watch(client: httpx.AsyncClient, sid: str) -> tuple[list[int], list[float]]:
    """Follow a session's SSE stream to its turn_complete: (stored ids, latencies s)."""
    ids: list[int] = []
    latencies: list[float] = []
    event_id: str | None = None
    name: str | None = None
    async with client.stream("GET", f"/api/sessions/{sid}/events") as response:
        async for line in response.aiter_lines():
            if line.startswith("id: "):
                event_id = line[4:]
            elif line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: ") and name is not None:
                if name == "batch":  # stored events replayed in one message
                    now = time.time()
                    for event in json.loads(line[6:]):
                        latencies.append(now - event["ts"])
                        ids.append(int(event["seq"]))
                        if event["type"] == "turn_complete":
                            return ids, latencies
                name = event_id = None
            elif line.startswith("data: "):
                now = time.time()
                event = json.loads(line[6:])
                latencies.append(now - event["ts"])
                if event_id is not None:
                    ids.append(int(event_id))
                event_id = None
                if event["type"] == "turn_complete":
                    return ids, latencies
    raise RuntimeError(f"stream of {sid} ended before turn_complete")


async def run_session(client: httpx.AsyncClient, goal: str) -> tuple[str, list[int], list[float]]:
    r = await client.post("/api/sessions", json={"goal": goal})
    r.raise_for_status()
    sid = r.json()["id"]
    ids, latencies = await watch(client, sid)
    return sid, ids, latencies


def wait_port(port: int, deadline_s: float = 30) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("the web server did not start")


async def bench(sessions: int, steps: int, latency_steps: int) -> dict[str, float]:
    script = Script.from_steps(
        [tool_step(i) for i in range(latency_steps)] + [{"text": "Done alone."}]
        + [tool_step(i) for i in range(sessions * steps)]
        + [{"text": "Done."} for _ in range(sessions)])
    with tempfile.TemporaryDirectory() as tmp, ScriptedServer(script) as model:
        workspace = Path(tmp) / "ws"
        workspace.mkdir()
        os.environ["OPENINTERN_DATA_DIR"] = str(Path(tmp) / "data")
        os.environ["OPENINTERN_CONFIG"] = str(Path(tmp) / "config.toml")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        log = (Path(tmp) / "server.log").open("w")  # the per-session sandbox warnings
        # Started once before measuring; blocking here for a moment is harmless.
        child = subprocess.Popen(  # noqa: ASYNC220
            [sys.executable, __file__, "--serve", str(port), model.base_url, str(workspace)],
            env=os.environ.copy(), stderr=log)
        try:
            wait_port(port)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120,
                                         headers={"Authorization": f"Bearer {TOKEN}"}) as client:
                _sid, _ids, latencies = await run_session(client, "latency probe")
                idle_rss, cpu0 = proc_sample(child.pid)
                peak = idle_rss
                t0 = time.monotonic()
                tasks = [asyncio.create_task(run_session(client, f"concurrent {i}"))
                         for i in range(sessions)]
                while not all(t.done() for t in tasks):
                    peak = max(peak, proc_sample(child.pid)[0])
                    await asyncio.sleep(0.1)
                wall = time.monotonic() - t0
                _, cpu1 = proc_sample(child.pid)
                results = [t.result() for t in tasks]
        except Exception:
            print((Path(tmp) / "server.log").read_text()[-4000:], file=sys.stderr)
            raise
        finally:
            child.terminate()
            child.wait(timeout=10)
            log.close()
        store = open_store(settings_for(model.base_url, workspace))
        dropped = doubled = seen = 0
        for sid, ids, _lat in results:
            stored = [e.seq for e in store.events_after(sid, 0, limit=100_000)]
            dropped += len(set(stored) - set(ids))
            doubled += len(ids) - len(set(ids))
            seen += len(ids)
            assert ids == sorted(ids), f"events of {sid} out of order"
        ms = sorted(x * 1000 for x in latencies)
        return {
            "latency_events": len(ms), "latency_median_ms": statistics.median(ms),
            "latency_p95_ms": ms[int(0.95 * (len(ms) - 1))],
            "sessions": sessions, "events": seen, "dropped": dropped, "doubled": doubled,
            "wall_s": wall, "cpu_s": cpu1 - cpu0, "cpu_pct": 100 * (cpu1 - cpu0) / wall,
            "idle_rss_mb": idle_rss / 2**20, "peak_rss_mb": peak / 2**20,
        }


def seed_long_session(workspace: Path, events: int) -> str:
    """A stored session of ``events`` events, shaped like a long run: per step an
    assistant message, a shell call with its arguments, two chunks of live output, the
    result and the model call's usage."""
    from openintern.events import (
        AssistantMessage,
        ModelCall,
        ToolCallFinished,
        ToolCallStarted,
        ToolOutput,
        UserMessage,
    )

    store = open_store(settings_for("http://127.0.0.1:9", workspace))
    info = store.create_session(task="a long session (benchmark)", model="openai/scripted",
                                workspace=str(workspace), headless=True)
    batch: list[Any] = [UserMessage(text="go on for a long time")]
    step = 0
    while len(batch) < events:
        call = f"call_{step}"
        command = f"python train.py --epoch {step} --lr 0.01"
        batch += [
            AssistantMessage(text=f"Step {step}: training one more epoch.", iteration=step),
            ToolCallStarted(call_id=call, name="shell",
                            arguments={"command": command, "timeout_s": 120, "cwd": None}),
            ToolOutput(call_id=call, text=f"epoch {step} loss {1 / (step + 1):.4f}\n"),
            ToolOutput(call_id=call, text="saved checkpoint\n"),
            ToolCallFinished(call_id=call, name="shell", ok=True, duration_s=1.2,
                             preview=f"[exit code 0; 1.2 s]\nepoch {step} ...\n"),
            ModelCall(model="openai/scripted", prompt_tokens=1000, completion_tokens=50,
                      iteration=step),
        ]
        step += 1
    with store.batch():
        for event in batch[:events]:
            event.session_id = info.id
            store.add_event(event)
    store.close()
    return info.id


def bench_page(events: int, loads: int) -> dict[str, float]:
    """Open a session page of ``events`` stored events ``loads`` times in Chromium."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp) / "ws"
        workspace.mkdir()
        os.environ["OPENINTERN_DATA_DIR"] = str(Path(tmp) / "data")
        os.environ["OPENINTERN_CONFIG"] = str(Path(tmp) / "config.toml")
        sid = seed_long_session(workspace, events)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        child = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(port), "http://127.0.0.1:9",
             str(workspace)], env=os.environ.copy(), stderr=subprocess.DEVNULL)
        ready: list[float] = []
        interactive: list[float] = []
        busy: list[float] = []  # the page's main-thread task time per load (CPU, not wait)
        served: list[float] = []  # the server's CPU seconds per load
        drawn = 0
        try:
            wait_port(port)
            base = f"http://127.0.0.1:{port}"
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                            args=["--headless=new", "--no-sandbox"])
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                cdp = page.context.new_cdp_session(page)
                cdp.send("Performance.enable")
                page.goto(f"{base}/?token={TOKEN}")  # sets the cookie

                def task_s() -> float:
                    metrics = cdp.send("Performance.getMetrics")["metrics"]
                    return float(next(m["value"] for m in metrics if m["name"] == "TaskDuration"))

                for _ in range(loads + 1):  # the first load warms caches; not counted
                    cpu0 = proc_sample(child.pid)[1]
                    page.goto(f"{base}/sessions/{sid}")
                    page.wait_for_selector("[data-interactive-ms]", timeout=60_000)
                    busy.append(task_s() * 1000)  # counted from this document's start
                    served.append((proc_sample(child.pid)[1] - cpu0) * 1000)
                    root = page.locator("[data-session]")
                    ready.append(float(root.get_attribute("data-ready-ms") or "nan"))
                    interactive.append(float(root.get_attribute("data-interactive-ms") or "nan"))
                    drawn = page.locator("#log [data-seq]").count()
                browser.close()
        finally:
            child.terminate()
            child.wait(timeout=10)
    ready, interactive, busy, served = ready[1:], interactive[1:], busy[1:], served[1:]
    return {"events": events, "loads": loads, "drawn": drawn,
            "busy_median_ms": statistics.median(busy),
            "served_median_ms": statistics.median(served),
            "load_average": os.getloadavg()[0], "cores": os.cpu_count() or 1,
            "ready_median_ms": statistics.median(ready), "ready_max_ms": max(ready),
            "interactive_median_ms": statistics.median(interactive),
            "interactive_max_ms": max(interactive)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--steps", type=int, default=8, help="tool iterations per session")
    parser.add_argument("--latency-steps", type=int, default=30)
    parser.add_argument("--page-events", type=int, default=10_000,
                        help="stored events of the session page opened in Chromium")
    parser.add_argument("--page-loads", type=int, default=5)
    parser.add_argument("--page-only", action="store_true",
                        help="only the long session page in Chromium")
    parser.add_argument("--serve", nargs=3, metavar=("PORT", "MODEL_URL", "WORKSPACE"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), args.serve[1], Path(args.serve[2]))
        return
    table = Table(title="Web app (scripted model, SSE over 127.0.0.1)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    page = bench_page(args.page_events, args.page_loads) if args.page_events else None
    if page is not None:
        label = f"session page, {page['events']:,.0f} events: open → caught up"
        table.add_row(label, f"{page['ready_median_ms']:.0f} ms median, "
                      f"{page['ready_max_ms']:.0f} ms worst ({page['loads']:.0f} loads)")
        table.add_row("  … → interactive (painted, main thread free)",
                      f"{page['interactive_median_ms']:.0f} ms median, "
                      f"{page['interactive_max_ms']:.0f} ms worst")
        table.add_row("  … page main-thread task time while loading",
                      f"{page['busy_median_ms']:.0f} ms median")
        table.add_row("  … server CPU for the page and its replay",
                      f"{page['served_median_ms']:.0f} ms median")
        table.add_row("  stored events drawn at once (the rest behind a button)",
                      f"{page['drawn']:,.0f}")
        table.add_row("  machine load average / cores",
                      f"{page['load_average']:.1f} / {page['cores']:.0f}")
    if args.page_only:
        Console().print(table)
        return
    r = asyncio.run(bench(args.sessions, args.steps, args.latency_steps))
    table.add_row("event latency loop → SSE client, median",
                  f"{r['latency_median_ms']:.1f} ms ({r['latency_events']:.0f} events)")
    table.add_row("event latency loop → SSE client, p95", f"{r['latency_p95_ms']:.1f} ms")
    table.add_row("concurrent streaming sessions", f"{r['sessions']:.0f}")
    table.add_row("stored events streamed (all sessions)", f"{r['events']:.0f}")
    table.add_row("events dropped / doubled (vs store)", f"{r['dropped']:.0f} / {r['doubled']:.0f}")
    table.add_row("wall time, all sessions", f"{r['wall_s']:.1f} s")
    table.add_row("server CPU", f"{r['cpu_s']:.1f} s ({r['cpu_pct']:.0f}% of one core)")
    table.add_row("server RSS idle → peak", f"{r['idle_rss_mb']:.0f} → {r['peak_rss_mb']:.0f} MB")
    Console().print(table)


if __name__ == "__main__":
    main()
