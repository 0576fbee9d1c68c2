"""The web lab in a real headless Chromium: charts that draw (a one-point series is a
marker), hover readouts, smoothing, log scale and overlays naming their runs; runs told
apart and grouped by sweep and configuration; statistics with p-values and per-seed strip
plots; a sweep in parallel coordinates; live output of a shell command and of a job;
metric points arriving while a job runs; a session run by the CLI updating an open page;
and every page working under the app's Content Security Policy."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
from browser_support import WAIT_MS, drawn_pixels, require_chromium
from web_support import TOKEN, LiveServer, call

from openintern.compute.local import LocalBackend
from openintern.compute.metrics import MetricPoint
from openintern.llm.script import Script
from openintern.llm.scripted import ScriptedServer
from openintern.render import tool_summary
from openintern.research.ledger import Ledger
from openintern.research.runner import launch, sync
from openintern.sandbox import make_sandbox

require_chromium()

BLUE = (9, 105, 218)  # the first series colour (charts.js COLORS[0])


def run_async(coroutine: Coroutine[Any, Any, Any]) -> None:
    """Run a coroutine to its end in a thread of its own (Playwright's sync API keeps an
    event loop running in this one)."""
    failure: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(coroutine)
        except BaseException as exc:  # re-raised in the test's thread
            failure.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


def seed_sweep(server: LiveServer) -> tuple[str, dict[str, str]]:
    """A session with a learning-rate sweep (2 configurations × 3 seeds, loss curves and
    a final accuracy) and a probe run that logged a single point."""
    store = server.hub.store
    info = store.create_session(task="tune the learning rate", model="openai/scripted",
                                workspace=str(server.hub.settings.workspace), headless=False,
                                config={})
    ledger = Ledger(store)
    now = time.time()
    ids: dict[str, str] = {}
    for lr, accs in [(0.1, [0.91, 0.93, 0.92]), (0.01, [0.84, 0.86, 0.83])]:
        for seed, acc in enumerate(accs):
            exp = ledger.declare(session_id=info.id, name="lr-sweep", command="python t.py",
                                 config={"lr": lr}, seed=seed, primary_metric="acc",
                                 sweep_id="sweep0001")
            curve = [2.3 * (1 - lr) ** s + 0.1 * seed for s in range(6)]
            ledger.add_points(exp.id, [MetricPoint(s, "loss", v, now + s)
                                       for s, v in enumerate(curve)]
                              + [MetricPoint(5, "acc", acc, now + 5)], {})
            ledger.set_status(exp.id, "succeeded", started_at=now, ended_at=now + 12.5)
            ids[f"{lr}/{seed}"] = exp.id
    probe = ledger.declare(session_id=info.id, name="probe", command="python probe.py",
                           primary_metric="acc")
    ledger.add_points(probe.id, [MetricPoint(1, "acc", 0.77, now)], {})
    ledger.set_status(probe.id, "succeeded", started_at=now, ended_at=now + 1)
    ids["probe"] = probe.id
    return info.id, ids


def test_lab_charts_statistics_and_runs_told_apart(
        live_server_factory: Callable[[str], LiveServer], page: Any, shots: Path) -> None:
    server = live_server_factory("http://127.0.0.1:9")
    sid, ids = seed_sweep(server)
    # The first lab page may wait for scipy's import (warmed when the server starts).
    page.goto(f"{server.url}/experiments?session={sid}&token={TOKEN}", timeout=90_000)

    # Grouped by sweep and configuration; each run named by what tells it apart.
    assert "lr-sweep" in page.locator("tr.sweep-head").first.inner_text()
    heads = page.locator("tr.config-head").all_inner_texts()
    assert any("lr=0.1 " in h for h in heads) and any("lr=0.01 " in h for h in heads)
    labels = page.locator("a.run-link").all_inner_texts()
    assert "lr=0.1 · seed 0" in labels and "lr=0.01 · seed 2" in labels and "probe" in labels
    assert len(set(labels)) == len(labels) == 7

    # Statistics a reviewer reads: n, mean ± CI, p vs the baseline, the test, per-seed dots.
    rows = page.locator("#configs tbody tr")
    assert rows.count() == 3  # two sweep configurations and the probe
    baseline = page.locator("#configs tr.baseline")
    assert "lr=0.1" in baseline.inner_text() and "baseline" in baseline.inner_text()
    other = page.locator("#configs tbody tr", has_text="lr=0.01")
    p_text = other.locator(".p-value").inner_text().split()[0]
    assert 0 <= float(p_text) < 0.05  # 0.92 vs 0.843 over three seeds each
    assert other.locator(".test").inner_text() == "Welch's t"
    assert "Welch's t-test" in page.locator("#configs caption").inner_text()
    assert other.locator("svg.strip circle.strip-dot").count() == 3
    assert other.locator(".n").inner_text() == "3"

    # A run that logged one point: its chart shows a marker, and hovering reads it out.
    probe_row = page.locator(f"tr.run[data-exp='{ids['probe']}']")
    probe_row.get_by_role("button", name="Chart").click()
    figure = "#chart figure[data-metric=acc]"
    page.wait_for_selector(f"{figure} canvas")
    assert page.get_attribute(figure, "data-points") == "1"
    assert drawn_pixels(page, figure, BLUE) > 20
    page.locator(f"{figure} .u-over").hover()  # the middle of the plot: the lone point
    legend = page.locator(f"{figure} .u-legend .u-series").nth(1)
    page.wait_for_function(
        "s => document.querySelector(s).textContent.includes('0.77')",
        arg=f"{figure} .u-legend .u-series:nth-child(2)")
    assert "probe" in legend.inner_text()
    probe_row.get_by_role("button", name="Chart").click()  # off again

    # Several runs overlaid, the legend naming each; smoothing and a log scale.
    page.check(f"input.pick[value='{ids['0.1/0']}']")
    page.check(f"input.pick[value='{ids['0.01/0']}']")
    page.click("#overlay")
    loss = "#chart figure[data-metric=loss]"
    page.wait_for_selector(f"{loss} canvas")
    names = page.locator(f"{loss} .u-legend .u-series").all_inner_texts()
    assert any("lr=0.1 · seed 0" in n for n in names)
    assert any("lr=0.01 · seed 0" in n for n in names)
    page.locator("#chart input.smoothing").fill("0.5")
    page.locator(f"{loss} figcaption", has_text="smoothed 0.5").wait_for()
    page.check("#chart input.log-scale")
    page.wait_for_selector(f"{loss}[data-log=true]")
    assert drawn_pixels(page, loss, BLUE) > 50

    # Search, status filter and column choice.
    page.fill("#search", "lr=0.01")
    assert page.locator("tr.run:visible").count() == 3
    page.fill("#search", "")
    page.locator("details.columns summary").click()
    page.locator(".col-toggle[value=seed]").uncheck()
    assert page.locator("th[data-col=seed]").is_hidden()
    assert page.locator("th[data-col=started]").is_visible()
    assert page.locator("th[data-col=duration]").is_visible()
    assert "12.5 s" in page.locator(f"tr.run[data-exp='{ids['0.1/0']}']").inner_text()

    # The sweep as parallel coordinates: one line per finished run of the sweep.
    page.locator("#parallel-section").wait_for()
    assert page.locator("#parallel polyline.pc-line").count() == 6
    page.screenshot(path=str(shots / "lab-experiments.png"), full_page=True)

    # Sorting by value lists the runs flat, best first when descending.
    value = page.get_by_role("button", name="Value")
    value.click()
    value.click()
    assert page.locator("table.runs.flat").count() == 1
    assert page.locator("tr.run a.run-link").first.inner_text() == "lr=0.1 · seed 1"

    # Compare: the two runs are told apart in the title, the table and the legend.
    page.click("#compare")
    page.wait_for_url("**/experiments/compare?*")
    heading = [page.inner_text(".run-a"), page.inner_text(".run-b")]
    assert heading == ["lr-sweep · lr=0.1 · seed 0", "lr-sweep · lr=0.01 · seed 0"]
    assert page.locator("tr.differs", has_text="config · lr").count() == 1
    page.wait_for_selector("#chart figure[data-metric=loss] canvas")
    legend_names = page.locator("#chart figure[data-metric=loss] .u-legend .u-series"
                                ).all_inner_texts()
    assert sum(heading[0] in n for n in legend_names) == 1
    assert sum(heading[1] in n for n in legend_names) == 1
    page.screenshot(path=str(shots / "lab-compare.png"), full_page=True)

    # The report links the conclusion's numbers to the configuration row they are from.
    from openintern.llm.types import Message

    server.hub.store.add_message(sid, Message(role="assistant", content=(
        f"lr=0.1 wins: acc 0.920 vs 0.843, p = {float(p_text):.3g}.")))
    page.goto(f"{server.url}/sessions/{sid}/report")
    link = page.locator(".conclusion a.config-link").first
    assert link.inner_text() == "0.920"
    link.click()
    assert page.locator("#configs tr:target").inner_text().startswith("lr=0.1")


def test_job_page_streams_output_metrics_and_system_use_while_it_runs(
        live_server_factory: Callable[[str], LiveServer], page: Any, workspace: Path) -> None:
    server = live_server_factory("http://127.0.0.1:9")
    store = server.hub.store
    settings = server.hub.settings
    info = store.create_session(task="a slow job", model="openai/scripted",
                                workspace=str(workspace), headless=False, config={})
    gate = workspace / "go"
    script = ("import json, time, pathlib\n"
              "print('epoch 0 started', flush=True)\n"
              "print(json.dumps({'step': 0, 'loss': 1.5}), flush=True)\n"
              "while not pathlib.Path('go').exists(): time.sleep(0.05)\n"
              "print(json.dumps({'step': 1, 'loss': 0.7}), flush=True)\n"
              "print('all done', flush=True)\n")
    (workspace / "slow.py").write_text(script)
    ledger = Ledger(store)
    backend = LocalBackend(workspace, make_sandbox(settings, workspace))
    exp = ledger.declare(session_id=info.id, name="slow", command="python slow.py",
                         primary_metric="loss")
    run_async(launch(ledger, exp.id, backend, workspace))

    def synced() -> None:  # what the agent's `jobs wait` does while it waits
        run_async(sync(ledger, exp.id, backend))

    page.goto(f"{server.url}/experiments/{exp.id}?token={TOKEN}")
    page.locator("#logs", has_text="epoch 0 started").wait_for()
    assert "all done" not in page.inner_text("#logs")  # still running: streamed, not final
    assert page.get_attribute("a.full-log", "href") == f"/experiments/{exp.id}/log.txt"
    deadline = time.monotonic() + WAIT_MS / 1000
    while not ledger.series(exp.id) and time.monotonic() < deadline:
        synced()
        time.sleep(0.1)
    figure = "#chart figure[data-metric=loss]"
    page.wait_for_selector(f"{figure}[data-points='1'] canvas")  # while the job runs
    assert not ledger.get(exp.id).done

    gate.write_text("go")
    page.locator("#logs", has_text="all done").wait_for()
    deadline = time.monotonic() + 20
    while not ledger.get(exp.id).done and time.monotonic() < deadline:
        synced()
        time.sleep(0.1)
    page.wait_for_selector(f"{figure}[data-points='2']")
    page.wait_for_selector("#system figure[data-metric=rss_mb] canvas")
    full = httpx.get(f"{server.url}/experiments/{exp.id}/log.txt",
                     headers={"Authorization": f"Bearer {TOKEN}"})
    assert "epoch 0 started" in full.text and "all done" in full.text
    page.reload()  # the lists of files are drawn with the page
    artifacts = page.locator("#artifacts a").all_inner_texts()
    assert "output.log" in artifacts and "system.jsonl" in artifacts
    assert "spec.json" not in artifacts  # the launcher's own files are not results
    assert page.locator("#code-files a").all_inner_texts() == ["slow.py"]
    page.locator("#artifacts a", has_text="output.log").click()
    page.locator("pre.file", has_text="all done").wait_for()


def test_shell_output_streams_into_its_card_before_the_command_ends(
        live_server_factory: Callable[[str], LiveServer], page: Any, workspace: Path) -> None:
    command = "echo first-line; while [ ! -e go ]; do sleep 0.05; done; echo last-line"
    script = Script.from_steps([
        {"text": "Running it.", "tool_calls": [call("shell", command=command)]},
        {"text": "Done."},
    ])
    with ScriptedServer(script) as model:
        server = live_server_factory(model.base_url)
        created = httpx.post(f"{server.url}/api/sessions", json={"goal": "run it"},
                             headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120)
        sid = created.json()["id"]
        page.goto(f"{server.url}/sessions/{sid}?token={TOKEN}")
        card = page.locator("#log details.tool", has_text="shell")
        card.locator("pre.live", has_text="first-line").wait_for()
        assert card.get_attribute("class") is not None
        assert "running" in (card.get_attribute("class") or "")
        assert "last-line" not in card.locator("pre.live").inner_text()
        # The collapsed line is the terminal's line; the command shows as a code block.
        assert card.locator("summary .line").inner_text() == tool_summary(
            "shell", {"command": command, "timeout_s": 120, "cwd": None})
        assert card.locator("pre.code").inner_text() == command
        assert "null" not in card.locator("dl.kv").inner_text()
        (workspace / "go").write_text("")
        page.wait_for_selector("#log details.tool.ok")
        assert "last-line" in card.locator("pre.live").inner_text()
        href = card.locator("a.full-log").get_attribute("href")
        full = httpx.get(f"{server.url}{href}", headers={"Authorization": f"Bearer {TOKEN}"})
        assert full.text == "first-line\nlast-line\n"


def test_a_session_run_by_the_cli_updates_an_open_page(
        live_server_factory: Callable[[str], LiveServer], page: Any, workspace: Path) -> None:
    script = Script.from_steps([
        {"text": "Working from a terminal.", "tool_calls": [
            call("shell", command="echo from-the-cli; while [ ! -e go ]; do sleep 0.05; done")]},
        {"text": "The CLI finished the work."},
    ])
    with ScriptedServer(script) as model:
        server = live_server_factory("http://127.0.0.1:9")
        env = {**os.environ, "OPENINTERN_API_KEY": "x", "LITELLM_LOCAL_MODEL_COST_MAP": "True",
               "OPENINTERN_RETRY_BASE_DELAY_S": "0.05"}
        cli = subprocess.Popen(  # the same store: the data directory of this test
            [sys.executable, "-m", "openintern.cli", "run", "work from a terminal",
             "--model", "openai/scripted", "--api-base", model.base_url, "--sandbox", "none",
             "--workspace", str(workspace), "-y"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 120
            while not server.hub.store.list_sessions(5) and time.monotonic() < deadline:
                time.sleep(0.1)
            sid = server.hub.store.list_sessions(5)[0].id
            page.goto(f"{server.url}/sessions/{sid}?token={TOKEN}")
            page.wait_for_selector("[data-replayed=true]")
            # Live without a reload: the CLI's shell output, then its last message.
            page.locator("#log pre.live", has_text="from-the-cli").wait_for(timeout=120_000)
            assert page.locator("#log .msg.assistant", has_text="The CLI finished").count() == 0
            assert page.inner_text("#status") == "running"
            assert page.locator("#interrupt").is_disabled()  # it runs elsewhere
            (workspace / "go").write_text("")
            page.locator("#log .msg.assistant", has_text="The CLI finished the work.").wait_for()
            page.locator(".turn-end", has_text="finished").wait_for()
            assert page.inner_text("#status") == "idle"
            assert cli.wait(timeout=60) == 0
        finally:
            if cli.poll() is None:
                cli.kill()
                cli.wait()


def test_pages_obey_the_content_security_policy(
        live_server_factory: Callable[[str], LiveServer], browser: Any) -> None:
    server = live_server_factory("http://127.0.0.1:9")
    sid, ids = seed_sweep(server)
    headers = httpx.get(f"{server.url}/", headers={"Authorization": f"Bearer {TOKEN}"}).headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert httpx.get(f"{server.url}/").headers["x-frame-options"] == "DENY"  # the 401 too
    icon = httpx.get(f"{server.url}/favicon.ico", follow_redirects=True,
                     headers={"Authorization": f"Bearer {TOKEN}"})
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg")

    context = browser.new_context(viewport={"width": 1280, "height": 860})  # CSP enforced
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text)
            if "Content Security Policy" in m.text else None)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{server.url}/?token={TOKEN}")
        page.goto(f"{server.url}/experiments?session={sid}", timeout=90_000)
        page.locator(f"tr.run[data-exp='{ids['0.1/0']}']").get_by_role(
            "button", name="Chart").click()
        page.wait_for_selector("#chart figure[data-metric=loss] canvas")
        page.locator("#parallel polyline.pc-line").first.wait_for()
        page.goto(f"{server.url}/experiments/{ids['0.1/0']}")
        page.wait_for_selector("#chart figure canvas")
        page.goto(f"{server.url}/experiments/compare?a={ids['0.1/0']}&b={ids['0.01/0']}")
        page.wait_for_selector("#chart figure canvas")
        page.goto(f"{server.url}/sessions/{sid}")
        page.wait_for_selector("[data-replayed=true]")
        page.goto(f"{server.url}/sessions/{sid}/report")
        # Markup from the agent cannot run: an inline script is refused by the policy.
        page.evaluate("""() => { const s = document.createElement('script');
            s.textContent = 'window.pwned = 1'; document.body.append(s); }""")
        assert page.evaluate("window.pwned") is None
    finally:
        context.close()
    assert errors == []
    assert len(violations) == 1 and "inline" in violations[0]  # only the injected script
