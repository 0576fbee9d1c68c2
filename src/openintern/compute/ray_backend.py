"""Ray Jobs backend: detached jobs on a Ray cluster, over the dashboard's REST API.

The agent talks HTTP (httpx) to the Ray dashboard — ``POST /api/jobs/``, ``GET
/api/jobs/{id}``, ``GET /api/jobs/{id}/logs``, ``POST /api/jobs/{id}/stop`` and the package
upload endpoints — so the agent's own environment does not need ``ray`` installed; only the
cluster does. Clusters with token authentication (``RAY_AUTH_MODE=token``) get the token
as ``Authorization: Bearer <token>``, sent only to the configured dashboard address.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx

from openintern.compute.base import JobBackendError, JobSpec, JobState, JobStatus
from openintern.compute.job_env import (
    TIMEOUT_EXIT_CODE,
    check_secret_names,
    scrub_env,
    scrub_prologue,
    wrapped_command,
)
from openintern.compute.ray_package import PackageTooLarge, pack_working_dir
from openintern.config import Settings
from openintern.egress import egress_purpose
from openintern.private_paths import PrivatePaths

# How long a submission waits for a freshly started head's job agent.
_AGENT_WAIT_S = 60.0

_RAY_STATES: dict[str, JobState] = {
    "PENDING": "queued",
    "RUNNING": "running",
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
    "STOPPED": "cancelled",
}
_UNSAFE_ID_CHARS = re.compile(r"[^a-zA-Z0-9_-]+")
# What a job needs to call back into its own token-protected cluster (ray.init()); it can
# already do anything there, so the cluster's token gives it nothing more.
_RAY_OWN_SECRETS = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")


def _default_token() -> str | None:
    """The token Ray's own CLI would use: ``RAY_AUTH_TOKEN_PATH`` or ``~/.ray/auth_token``."""
    path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")
    try:
        token = path.read_text().strip()
    except OSError:
        return None
    return token or None


def _normalise_address(address: str) -> str:
    address = address.strip().rstrip("/")
    if address.startswith("ray://"):
        raise JobBackendError(
            f"{address} is a Ray Client address; the jobs backend needs the dashboard URL "
            "(e.g. http://<head>:8265). Set OPENINTERN_RAY_ADDRESS to it."
        )
    if not address.startswith(("http://", "https://")):
        address = "http://" + address
    return address


class RayJobsBackend:
    """Submit, inspect and stop jobs through a Ray cluster's Jobs REST API."""

    name = "ray"

    def __init__(
        self,
        address: str,
        *,
        auth_token: str | None = None,
        connect_timeout_s: float = 3.0,
        request_timeout_s: float = 60.0,
        cancel_wait_s: float = 15.0,
        private: PrivatePaths | None = None,
        allowed_secrets: Iterable[str] = (),
    ) -> None:
        """``allowed_secrets``: the user's ``job_secrets`` allowlist (the only names a
        job may keep from the cluster's environment)."""
        self.allowed_secrets = list(allowed_secrets)
        self.address = _normalise_address(address)
        self.private = private  # never packed into a job
        self._token = auth_token
        self._timeout = httpx.Timeout(request_timeout_s, connect=connect_timeout_s)
        self._cancel_wait_s = cancel_wait_s

    @classmethod
    def from_settings(cls, settings: Settings) -> RayJobsBackend:
        """The backend for ``settings.ray_address`` (token: setting, then Ray's token file)."""
        if not settings.ray_address:
            raise JobBackendError(
                "no Ray cluster configured: set OPENINTERN_RAY_ADDRESS to the dashboard URL "
                "(e.g. http://127.0.0.1:8265 after `ray start --head`)"
            )
        token = (
            settings.ray_auth_token.get_secret_value()
            if settings.ray_auth_token is not None
            else _default_token()
        )
        return cls(settings.ray_address, auth_token=token,
                   private=PrivatePaths.of(settings.workspace, settings.private_paths),
                   allowed_secrets=settings.job_secrets)

    # --- HTTP -------------------------------------------------------------------------
    async def _request(
        self, method: str, path: str, *, json: Any = None, content: bytes | None = None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        # A client per call: cheap, and never bound to an event loop that has since closed.
        # Redirects are not followed, so the token never travels to another host.
        async with httpx.AsyncClient(
            base_url=self.address, timeout=self._timeout, headers=headers,
            follow_redirects=False,
        ) as client:
            try:
                response = await client.request(method, path, json=json, content=content)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                raise JobBackendError(
                    f"cannot reach the Ray dashboard at {self.address} ({exc.__class__.__name__}); "
                    "start it with `ray start --head` or set OPENINTERN_RAY_ADDRESS"
                ) from exc
            except httpx.HTTPError as exc:
                raise JobBackendError(
                    f"the Ray dashboard at {self.address} did not answer {method} {path}: {exc!r}"
                ) from exc
        if response.status_code == 401:
            raise JobBackendError(
                f"the Ray cluster at {self.address} requires token authentication: set "
                "RAY_AUTH_TOKEN (or OPENINTERN_RAY_AUTH_TOKEN) to its token "
                "(`ray get-auth-token` on the head prints it)"
            )
        if response.status_code == 403:
            raise JobBackendError(
                f"the Ray cluster at {self.address} rejected the auth token: check RAY_AUTH_TOKEN"
            )
        return response

    def _fail(self, response: httpx.Response, doing: str) -> JobBackendError:
        body = response.text.strip().splitlines()
        # Ray answers errors with a Python traceback; its last line says what went wrong.
        reason = body[-1] if body else "(empty body)"
        return JobBackendError(f"Ray could not {doing} (HTTP {response.status_code}): {reason}")

    # --- payload ----------------------------------------------------------------------
    def build_submission(
        self, spec: JobSpec, working_dir_uri: str, submission_id: str
    ) -> dict[str, Any]:
        """The JSON body of ``POST /api/jobs/`` for ``spec``.

        Secret-looking names are dropped from ``spec.env``, and the entrypoint unsets every
        secret-looking variable the job inherits from the node, except Ray's own token and
        the names in ``spec.secrets`` (Ray has no secret store: a named secret is one the
        cluster's own environment provides; the agent never sends a value).
        """
        check_secret_names(spec.secrets, self.allowed_secrets)
        env, _dropped = scrub_env(spec.env)
        runtime_env: dict[str, Any] = {"working_dir": working_dir_uri, "env_vars": env}
        if spec.pip:
            runtime_env["pip"] = list(spec.pip)
        # bash -c keeps the command's bash semantics whatever shell Ray starts it with.
        payload: dict[str, Any] = {
            "entrypoint": "bash -c "
            + shlex.quote(
                wrapped_command(spec, prologue=scrub_prologue([*_RAY_OWN_SECRETS, *spec.secrets],
                                                            runtime_prefixes=["RAY_"]))
            ),
            "submission_id": submission_id,
            "runtime_env": runtime_env,
            "metadata": {"openintern_name": spec.name or "job"},
        }
        if spec.gpus:
            payload["entrypoint_num_gpus"] = spec.gpus
        return payload

    async def _upload_working_dir(self, workdir: Path) -> str:
        try:
            package = await asyncio.to_thread(pack_working_dir, workdir, private=self.private)
        except (FileNotFoundError, PackageTooLarge) as exc:
            raise JobBackendError(str(exc)) from exc
        path = f"/api/packages/gcs/{package.name}"
        with egress_purpose("Ray job package check", "api", package=package.name):
            exists = await self._request("GET", path)
        if exists.status_code == 200:
            return package.uri
        if exists.status_code != 404:
            raise self._fail(exists, "check for the working-directory package")
        with egress_purpose("Ray job code package", "job_package", package=package.name,
                            files=list(package.paths),
                            private_left_out=list(package.left_out)):
            uploaded = await self._request("PUT", path, content=package.data)
        if uploaded.status_code != 200:
            raise self._fail(uploaded, "store the working-directory package")
        return package.uri

    # --- JobBackend ---------------------------------------------------------------------
    async def submit(self, spec: JobSpec) -> str:
        """Upload the working directory (if the cluster lacks it) and start the job."""
        uri = await self._upload_working_dir(Path(spec.workdir))
        slug = _UNSAFE_ID_CHARS.sub("-", spec.name or "job").strip("-")[:40] or "job"
        submission_id = f"openintern-{slug}-{uuid.uuid4().hex[:10]}"
        # A head that has just started answers 500 "No available agent to submit job,
        # please try again later" until its job agent is up: wait for it, briefly.
        deadline = time.monotonic() + _AGENT_WAIT_S
        with egress_purpose("Ray job submission", "job_spec", job=submission_id):
            while True:
                response = await self._request(
                    "POST", "/api/jobs/", json=self.build_submission(spec, uri, submission_id)
                )
                if (response.status_code != 500 or "No available agent" not in response.text
                        or time.monotonic() >= deadline):
                    break
                await asyncio.sleep(0.5)
        if response.status_code != 200:
            raise self._fail(response, "submit the job")
        returned = response.json().get("submission_id")
        return str(returned or submission_id)

    async def status(self, job_id: str) -> JobStatus:
        """The job's state; ``unknown`` when the cluster no longer knows the id."""
        response = await self._request("GET", f"/api/jobs/{job_id}")
        if response.status_code == 404:
            return JobStatus(
                job_id=job_id, backend=self.name, state="unknown",
                detail=f"the Ray cluster at {self.address} has no job {job_id} "
                "(was the cluster restarted?)",
            )
        if response.status_code != 200:
            raise self._fail(response, f"report on job {job_id}")
        return self._to_status(job_id, response.json())

    def _to_status(self, job_id: str, info: dict[str, Any]) -> JobStatus:
        state = _RAY_STATES.get(str(info.get("status")), "unknown")
        exit_code = info.get("driver_exit_code")
        if state == "failed" and exit_code == TIMEOUT_EXIT_CODE:
            state = "timeout"
        detail = str(info.get("message") or "")
        if info.get("error_type"):
            detail = f"{info['error_type']}: {detail}"
        start, end = info.get("start_time"), info.get("end_time")
        return JobStatus(
            job_id=job_id,
            backend=self.name,
            state=state,
            exit_code=exit_code if isinstance(exit_code, int) else None,
            # Ray reports Unix milliseconds.
            started_at=start / 1000 if start else None,
            ended_at=end / 1000 if end else None,
            detail=detail,
        )

    async def logs(self, job_id: str, *, tail: int | None = 200) -> str:
        """The job's combined output so far (last ``tail`` lines; None for all)."""
        response = await self._request("GET", f"/api/jobs/{job_id}/logs")
        if response.status_code == 404:
            raise JobBackendError(f"the Ray cluster at {self.address} has no job {job_id}")
        if response.status_code != 200:
            raise self._fail(response, f"return the logs of job {job_id}")
        text = str(response.json().get("logs") or "")
        if tail is None:
            return text
        return "\n".join(text.splitlines()[-tail:]) if tail > 0 else ""

    async def cancel(self, job_id: str) -> JobStatus:
        """Ask Ray to stop the job and wait (briefly) until it reaches a terminal state."""
        current = await self.status(job_id)
        if current.done or current.state == "unknown":
            return current
        response = await self._request("POST", f"/api/jobs/{job_id}/stop")
        if response.status_code != 200:
            raise self._fail(response, f"stop job {job_id}")
        deadline = time.monotonic() + self._cancel_wait_s
        while True:
            current = await self.status(job_id)
            if current.done or time.monotonic() > deadline:
                return current
            await asyncio.sleep(0.25)

    async def list_jobs(self) -> list[JobStatus]:
        """Every submitted job the cluster knows (newest last)."""
        response = await self._request("GET", "/api/jobs/")
        if response.status_code != 200:
            raise self._fail(response, "list jobs")
        return [
            self._to_status(str(item["submission_id"]), item)
            for item in response.json()
            if item.get("submission_id")
        ]

    async def version(self) -> str:
        """The cluster's Ray version (a cheap reachability and auth check)."""
        response = await self._request("GET", "/api/version")
        if response.status_code != 200:
            raise self._fail(response, "report its version")
        return str(response.json().get("ray_version", "?"))

