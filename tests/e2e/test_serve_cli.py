"""End-to-end: `intern serve` starts the web app on loopback behind a token."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from e2e_helpers import intern_env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_prints_a_token_url_and_refuses_requests_without_it(workspace: Path) -> None:
    port = _free_port()
    env = intern_env("http://127.0.0.1:9/v1")
    proc = subprocess.Popen([sys.executable, "-m", "openintern.cli", "serve", "--port",
                             str(port)], env=env, cwd=workspace, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/\?token=(\S+)", line)
        assert match, line
        base, token = f"http://127.0.0.1:{match.group(1)}", match.group(2)
        for _ in range(100):
            try:
                httpx.get(base + "/api/sessions", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert httpx.get(base + "/api/sessions").status_code == 401
        assert httpx.get(base + "/api/sessions",
                         headers={"Authorization": "Bearer wrong"}).status_code == 401
        ok = httpx.get(base + "/api/sessions", headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200 and isinstance(ok.json(), (list, dict))
        page = httpx.get(f"{base}/?token={token}", follow_redirects=True)
        assert page.status_code == 200 and "OpenIntern" in page.text
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)


def test_serve_refuses_an_open_address_without_a_configured_token(workspace: Path) -> None:
    env = intern_env("http://127.0.0.1:9/v1")
    done = subprocess.run([sys.executable, "-m", "openintern.cli", "serve", "--host",
                           "0.0.0.0", "--port", str(_free_port())], env=env, cwd=workspace,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "token" in (done.stdout + done.stderr).lower()
