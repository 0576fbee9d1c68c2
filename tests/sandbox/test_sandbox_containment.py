"""Agent code that wants out: each attack against the sandbox, and that it is blocked.

CI runs as root, the hardest case: without a user namespace and dropped capabilities,
"read-only /" is one ``mount -o remount`` away from writable.
"""

from __future__ import annotations

import os
import socket
import stat
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from openintern.sandbox import BwrapSandbox, ResourceLimits
from openintern.sandbox.devices import gpu_device_nodes
from openintern.sandbox.limits import mechanism
from openintern.sandbox.network import host_addresses


def host_has(path: str | Path) -> bool:
    """Whether the file exists on the host (outside any sandbox)."""
    return Path(path).exists()


async def test_agent_code_runs_as_nobody_with_no_capabilities(
    offline_sandbox: BwrapSandbox,
) -> None:
    result = await offline_sandbox.run("id -u; id -g; grep -E '^Cap(Eff|Prm|Bnd):' "
                                       "/proc/self/status", timeout_s=30)
    lines = result.output.split()
    assert lines[0] == "65534" and lines[1] == "65534"
    caps = dict(zip(lines[2::2], lines[3::2], strict=True))
    assert caps == {"CapPrm:": "0" * 16, "CapEff:": "0" * 16, "CapBnd:": "0" * 16}


async def test_remounting_the_system_writable_fails(offline_sandbox: BwrapSandbox) -> None:
    probe = f"/etc/openintern-escape-{uuid.uuid4().hex}"
    result = await offline_sandbox.run(
        f"mount -o remount,rw,bind / && echo REMOUNTED; mount -o remount,rw /etc && echo "
        f"REMOUNTED-ETC; echo pwned > {probe} && echo WROTE; unshare -Ur true && echo NESTED-NS; "
        "echo end", timeout_s=30)
    assert result.output.rstrip().endswith("end")
    for marker in ("REMOUNTED", "WROTE", "NESTED-NS"):
        assert marker not in result.output
    assert not host_has(probe)


@pytest.mark.skipif(os.geteuid() != 0, reason="the root case: ownership does not protect")
async def test_files_only_root_may_read_stay_unreadable(offline_sandbox: BwrapSandbox) -> None:
    # Agent code of a root caller keeps root's uid outside (without capabilities), so
    # /etc/shadow, host keys and service data must be hidden, not just root-owned.
    result = await offline_sandbox.run(
        "head -c 40 /etc/shadow && echo READ-SHADOW; ls /var/lib | head -3; "
        "ls /etc/ssl/private 2>/dev/null | head -3; echo end", timeout_s=30)
    assert "READ-SHADOW" not in result.output and "root:" not in result.output
    assert result.output.strip().endswith("end")
    assert len(result.output.strip().splitlines()) <= 3  # no listing of /var/lib


async def test_agent_code_cannot_leave_its_cgroup_or_change_kernel_settings(
    offline_sandbox: BwrapSandbox,
) -> None:
    result = await offline_sandbox.run(
        "for f in /sys/fs/cgroup/cgroup.procs /sys/fs/cgroup/*/cgroup.procs; do "
        "[ -e $f ] && (echo $$ > $f) 2>/dev/null && echo MOVED $f; done; "
        "(echo 1 > /proc/sys/kernel/sysrq) 2>/dev/null && echo SYSCTL; echo end", timeout_s=30)
    assert "MOVED" not in result.output and "SYSCTL" not in result.output
    assert result.output.strip().endswith("end")


@pytest.mark.skipif(not Path("/run").is_dir() or not os.access("/run", os.W_OK),
                    reason="needs a writable /run on the host")
async def test_host_service_sockets_in_run_are_hidden(offline_sandbox: BwrapSandbox) -> None:
    path = Path(f"/run/openintern-test-{uuid.uuid4().hex[:8]}.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen()
    try:
        result = await offline_sandbox.run(
            f"ls /run; python -c \"import socket; s=socket.socket(socket.AF_UNIX); "
            f"s.connect('{path}'); print('CONNECTED')\"", timeout_s=30)
    finally:
        server.close()
        os.unlink(path)
    assert path.name not in result.output
    assert "CONNECTED" not in result.output


async def test_env_files_are_hidden_inside_the_sandbox(workspace: Path) -> None:
    secrets = {".env": "OPENAI_API_KEY=sk-from-dotenv-0123456789",
               ".env.local": "HF_TOKEN=hf_from_env_local_0123456789",
               "service/.envrc": "export DB_PASSWORD=from-envrc-0123"}
    for rel, text in secrets.items():
        (workspace / rel).parent.mkdir(exist_ok=True)
        (workspace / rel).write_text(text)
    sandbox = BwrapSandbox(workspace, network="off")
    result = await sandbox.run("cat .env .env.local service/.envrc; grep -r from- . ; "
                               "echo x > .env || echo READONLY; ls -a", timeout_s=30)
    for text in secrets.values():
        assert text.split("=", 1)[1] not in result.output
    assert "READONLY" in result.output
    assert ".env" in result.output.split()  # hidden, not removed: the user's tools still work
    assert (workspace / ".env").read_text() == secrets[".env"]


async def test_openintern_folder_is_read_only_but_the_venv_is_writable(workspace: Path) -> None:
    sandbox = BwrapSandbox(workspace, network="off")
    result = await sandbox.run(
        "mkdir -p .openintern/runs/forged && echo MADE; touch .openintern/spill && echo TOUCHED;"
        " mv .openintern elsewhere && echo MOVED; ln -s /etc .openintern/spill2 && echo LINKED;"
        " touch .openintern/venv/ok && echo VENV-OK", timeout_s=60)
    for marker in ("MADE", "TOUCHED", "MOVED", "LINKED"):
        assert marker not in result.output, result.output
    assert "VENV-OK" in result.output
    assert not (workspace / ".openintern" / "runs" / "forged").exists()
    assert (workspace / ".openintern" / "venv" / "ok").exists()


@pytest.fixture
def host_service() -> Iterator[int]:
    """A TCP service on every host address (0.0.0.0), like a dashboard bound carelessly."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", 0))
    server.listen(16)
    stop = threading.Event()

    def answer() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            conn.sendall(b"pong")
            conn.close()

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


_PROBE = """
import socket, sys
for host in sys.argv[2:]:
    try:
        s = socket.create_connection((host, int(sys.argv[1])), 2)
        print(host, "REACHED", s.recv(4))
    except OSError as exc:
        print(host, "blocked:", type(exc).__name__, exc.errno)
"""


async def test_default_network_reaches_no_service_of_the_host(
    workspace: Path, host_service: int
) -> None:
    (workspace / "probe.py").write_text(_PROBE)
    targets = ["127.0.0.1", "10.0.2.2", *host_addresses()]
    sandbox = BwrapSandbox(workspace)  # the default policy: egress
    assert sandbox.network == "egress"
    try:
        result = await sandbox.run(f"python probe.py {host_service} {' '.join(targets)}",
                                   timeout_s=60)
    finally:
        sandbox.close()
    assert result.exit_code == 0, result.output
    assert "REACHED" not in result.output, result.output
    assert len(result.output.splitlines()) == len(targets)
    # The same service *is* there: the full level (explicit opt-in) reaches it.
    full = BwrapSandbox(workspace, network="full")
    reached = await full.run(f"python probe.py {host_service} 127.0.0.1", timeout_s=60)
    assert "127.0.0.1 REACHED b'pong'" in reached.output


async def test_egress_namespace_prohibits_private_and_metadata_ranges(workspace: Path) -> None:
    sandbox = BwrapSandbox(workspace)
    try:
        result = await sandbox.run("ip route; cat /etc/resolv.conf", timeout_s=60)
    finally:
        sandbox.close()
    routes = result.output
    for cidr in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16",
                 "100.64.0.0/10"):
        assert f"prohibit {cidr}" in routes
    assert "default via 10.0.2.2" in routes
    assert "nameserver 10.0.2.3" in routes


# --- limits ---------------------------------------------------------------------------

needs_enforced_processes = pytest.mark.skipif(
    mechanism() == "rlimit" and os.geteuid() == 0,
    reason="no manageable cgroup here, and RLIMIT_NPROC does not bind root")


@needs_enforced_processes
async def test_fork_bomb_is_bounded_and_reported(workspace: Path) -> None:
    sandbox = BwrapSandbox(workspace, network="off", limits=ResourceLimits(max_processes=48))
    counted = await sandbox.run(
        "python -c \"import os, time\nn = 0\nfor _ in range(200):\n    try:\n"
        "        pid = os.fork()\n    except OSError:\n        break\n    if pid == 0:\n"
        "        time.sleep(5); os._exit(0)\n    n += 1\nprint('forked', n)\"", timeout_s=30)
    forked = int(counted.output.split("forked ")[1].split()[0])
    assert forked < 48
    assert any("process limit 48 reached" in line for line in counted.limits_reached)
    bomb = await sandbox.run(":(){ :|:& };:; sleep 2", timeout_s=3)
    assert bomb.duration_s < 15
    assert "[process limit 48 reached" in bomb.output
    after = await sandbox.run("echo still-fine", timeout_s=30)
    assert after.output.strip() == "still-fine"


async def test_memory_bomb_is_bounded_and_reported(workspace: Path) -> None:
    sandbox = BwrapSandbox(workspace, network="off",
                           limits=ResourceLimits(max_memory_bytes=128 << 20))
    result = await sandbox.run("python -c \"x = b'a' * (1 << 30); print('ALLOCATED')\"",
                               timeout_s=60)
    assert "ALLOCATED" not in result.output
    assert result.exit_code != 0
    assert "memory limit 128 MiB" in result.output
    small = await sandbox.run("python -c \"x = b'a' * (16 << 20); print('ok')\"", timeout_s=60)
    assert small.output.strip() == "ok" and small.limits_reached == []


# --- GPU device nodes -------------------------------------------------------------------


def test_gpu_jobs_get_the_gpu_device_nodes_and_nothing_else(workspace: Path,
                                                            tmp_path: Path) -> None:
    fake = [tmp_path / "nvidia0", tmp_path / "nvidiactl", tmp_path / "nvidia-uvm",
            tmp_path / "nvidia-caps"]
    sandbox = BwrapSandbox(workspace, network="off", gpu_devices=fake)
    gpu_argv, _ = sandbox.wrap(["true"], gpu=True)
    cpu_argv, _ = sandbox.wrap(["true"])
    binds = [gpu_argv[i + 1] for i, a in enumerate(gpu_argv) if a == "--dev-bind"]
    assert binds == [str(p) for p in fake]
    for path in fake:
        at = gpu_argv.index(str(path))
        assert gpu_argv[at - 1 : at + 2] == ["--dev-bind", str(path), str(path)]
    assert "--dev-bind" not in cpu_argv
    # The binds come after the fresh /dev, so they add to it and replace nothing.
    assert gpu_argv.index("--dev") < gpu_argv.index("--dev-bind")


@pytest.mark.skipif(os.geteuid() != 0, reason="making device nodes needs root")
def test_gpu_device_discovery_finds_character_devices_only(tmp_path: Path) -> None:
    os.mknod(tmp_path / "nvidia0", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.mknod(tmp_path / "nvidiactl", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    (tmp_path / "nvidia-caps").mkdir()
    (tmp_path / "nvidia-notes.txt").write_text("not a device")
    (tmp_path / "sda").write_text("not ours")
    found = gpu_device_nodes(tmp_path)
    assert [p.name for p in found] == ["nvidia-caps", "nvidia0", "nvidiactl"]
