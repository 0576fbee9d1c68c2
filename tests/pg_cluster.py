"""A throwaway PostgreSQL cluster for the tests: Debian's binaries (``scripts/setup.sh
--dev`` installs the ``postgresql`` package), ``initdb`` into a temporary folder, a
server on 127.0.0.1 at a free port, stopped and deleted at the end of the test session.

``initdb`` refuses to run as root, so as root every server command runs as the
``postgres`` user (``runuser``). ``OPENINTERN_TEST_POSTGRES_URL`` (a server someone
already runs) skips all of this.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

ADMIN_USER = "openintern"


def find_bindir() -> Path | None:
    """The newest installed PostgreSQL's bin folder with initdb and pg_ctl."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(Path(p).parent.parent.name)
                        if Path(p).parent.parent.name.isdigit() else 0)
    for initdb in reversed(candidates):
        bindir = Path(initdb).parent
        if (bindir / "pg_ctl").exists():
            return bindir
    found = shutil.which("initdb")
    return Path(found).parent if found and shutil.which("pg_ctl") else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresCluster:
    """A running cluster; ``url(db)`` is the SQLAlchemy URL of one of its databases."""

    bindir: Path
    root: Path
    port: int
    as_postgres: bool

    @property
    def data(self) -> Path:
        return self.root / "data"

    def _run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / argv[0]), *argv[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=120,
                              check=False)

    @classmethod
    def start(cls, bindir: Path) -> PostgresCluster:
        """initdb and start a server; raise RuntimeError saying what failed."""
        as_postgres = os.geteuid() == 0
        root = Path(tempfile.mkdtemp(prefix="openintern-pg-"))
        cluster = cls(bindir, root, _free_port(), as_postgres)
        if as_postgres:
            shutil.chown(root, "postgres", "postgres")
        done = cluster._run("initdb", "-D", str(cluster.data), "-U", ADMIN_USER,
                            "-A", "trust", "-E", "UTF8", "--no-sync", "--locale=C.UTF-8")
        if done.returncode != 0:
            cluster.remove()
            raise RuntimeError(f"initdb failed: {done.stderr.strip()[-2000:]}")
        options = (f"-p {cluster.port} -k {root} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=400 -c shared_buffers=32MB")
        done = cluster._run("pg_ctl", "-D", str(cluster.data), "-o", options, "-w",
                            "-t", "60", "-l", str(root / "server.log"), "start")
        if done.returncode != 0:
            log = (root / "server.log").read_text(errors="replace")[-2000:] if (
                root / "server.log").exists() else ""
            cluster.remove()
            raise RuntimeError(f"pg_ctl start failed: {done.stderr.strip()} {log}")
        return cluster

    def base_url(self) -> str:
        return f"postgresql+psycopg://{ADMIN_USER}@127.0.0.1:{self.port}"

    def create_database(self) -> str:
        """The SQLAlchemy URL of a fresh, empty store: its own schema (much quicker to
        make than a database), first on the connection's search path."""
        return _new_schema(f"{self.base_url()}/postgres")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        self.remove()

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


class ExternalServer:
    """A server given by ``OPENINTERN_TEST_POSTGRES_URL`` (databases are created in it)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def create_database(self) -> str:
        """The URL of a fresh schema in that server's database."""
        return _new_schema(self.url)

    def stop(self) -> None:
        """Nothing to stop: someone else runs it."""


def _new_schema(url: str) -> str:
    """Create an empty schema in the database at ``url``; the URL that uses it."""
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name = f"t_{uuid.uuid4().hex[:16]}"
    plain = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    with_path = parsed.update_query_dict({"options": f"-csearch_path={name}"})
    return with_path.render_as_string(hide_password=False)
