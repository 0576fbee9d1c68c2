"""A run's files in the web: artifacts from its run directory, its code snapshot, the diff
between two runs' code, the system metrics its launcher sampled, and the refusals that
keep agent-written paths and links from opening the host's files."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import httpx
from web_support import TOKEN, web_settings

from openintern.agent.session import open_store
from openintern.compute.base import JobSpec
from openintern.compute.local import LocalBackend
from openintern.compute.runfiles import job_output_dir
from openintern.research.ledger import Ledger
from openintern.research.snapshot import take_snapshot
from openintern.sandbox import make_sandbox
from openintern.web.app import create_app


def client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
                             base_url="http://127.0.0.1",
                             headers={"Authorization": f"Bearer {TOKEN}"})


async def test_artifacts_code_diff_and_system_metrics_of_real_runs(workspace: Path) -> None:
    settings = web_settings("http://127.0.0.1:9", workspace)
    store = open_store(settings)
    info = store.create_session(task="t", model="m", workspace=str(workspace), headless=False)
    ledger = Ledger(store)
    backend = LocalBackend(workspace, make_sandbox(settings, workspace), max_cpu_jobs=2)

    (workspace / "train.py").write_text("lr = 0.1\nprint('training')\n")
    first = take_snapshot(workspace)
    (workspace / "train.py").write_text("lr = 0.01\nprint('training')\n")
    (workspace / "extra.py").write_text("X = 1\n")
    second = take_snapshot(workspace)
    command = ("python -c \"import os, time, pathlib; d = pathlib.Path(os.environ"
               "['OPENINTERN_RUN_DIR']); (d / 'predictions.csv').write_text('id,y\\n1,0\\n');"
               " (d / 'weights.bin').write_bytes(bytes(range(256))); time.sleep(2.5)\"")
    ids = []
    for snap in (first, second):
        job = await backend.submit(JobSpec(command=command, workdir=workspace))
        exp = ledger.declare(session_id=info.id, name="run", command=command)
        ledger.mark_submitted(exp.id, backend="local", job_id=job, code_hash=snap.hash,
                              snapshot_path=str(snap.path), snapshot_files=snap.files,
                              data_fingerprint={})
        ids.append((exp.id, job))
    deadline = time.monotonic() + 60
    for _, job in ids:
        while not (await backend.status(job)).done:
            assert time.monotonic() < deadline, "the jobs did not finish"
            await asyncio.sleep(0.1)
    a, b = ids[0][0], ids[1][0]

    async with client(create_app(settings, TOKEN, store=store)) as c:
        page = (await c.get(f"/experiments/{a}")).text
        for name in ("predictions.csv", "weights.bin", "output.log", "system.jsonl"):
            assert f"/experiments/{a}/files/{name}" in page
        assert "/files/spec.json" not in page and "/files/command.sh" not in page
        shown = await c.get(f"/experiments/{a}/files/predictions.csv")
        assert shown.status_code == 200 and "id,y" in shown.text
        binary = await c.get(f"/experiments/{a}/files/weights.bin")
        assert binary.headers["content-disposition"].startswith("attachment")
        assert binary.content == bytes(range(256))
        code = await c.get(f"/experiments/{a}/code/train.py")
        assert "lr = 0.1" in code.text
        diff = (await c.get("/experiments/code-diff", params={"a": a, "b": b})).text
        assert "-lr = 0.1" in diff and "+lr = 0.01" in diff
        assert "extra.py" in diff and "added" in diff
        system = (await c.get(f"/api/experiments/{a}/system")).json()["series"]
        assert system["rss_mb"] and all(p["value"] > 0 for p in system["rss_mb"])
        assert [p["step"] for p in system["cpu_percent"]] == sorted(
            p["step"] for p in system["cpu_percent"])

        # Paths from agent code never lead outside the run's own directories: the job's
        # output folder is in the workspace, where agent code writes.
        run_dir = job_output_dir(workspace, ids[0][1])
        os.symlink("/etc/passwd", run_dir / "passwd")
        for path in ("files/passwd", "files/..%2F..%2Fspec.json", "files/spec.json",
                     "code/..%2F..%2F..%2Ftrain.py", "code/.complete"):
            r = await c.get(f"/experiments/{a}/{path}")
            assert r.status_code == 404, path
            assert "root:" not in r.text
        # An output folder swapped for a link to "/" is no output folder at all.
        moved = run_dir.with_name(run_dir.name + ".moved")
        run_dir.rename(moved)
        os.symlink("/", run_dir)
        assert (await c.get(f"/experiments/{a}/files/etc/passwd")).status_code == 404
        assert (await c.get(f"/experiments/{a}/files/predictions.csv")).status_code == 404
