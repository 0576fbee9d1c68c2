"""Hugging Face Jobs backend: detached jobs on Hugging Face hardware through ``huggingface_hub``.

``huggingface_hub``'s ``HfApi`` is synchronous (httpx), so every call runs in a worker thread.
The token goes only to ``settings.hf_endpoint`` (the client sends it to that base URL alone;
httpx drops it on a redirect to another host). Named secrets travel as the job's
``secrets`` (encrypted by the service), never as environment variables, and their values
never appear in an error message. The working directory ships inside the job as a
base64 tar.gz in an environment variable (code only: keep data out of it).

Launching costs money: :meth:`HfJobsBackend.estimate_cost_usd` gives the cost of running to
the time limit before anything is launched, so the caller can ask for approval.
"""

from __future__ import annotations

import asyncio
import base64
import io
import os
import re
import tarfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from openintern.compute.base import JobBackendError, JobSpec, JobState, JobStatus
from openintern.compute.hf_pricing import (
    DOCS_HOURLY_USD,
    estimate_cost_usd,
    hourly_prices_from_hardware,
)
from openintern.compute.job_env import check_secret_names, scrub_env, wrapped_command
from openintern.compute.ray_package import packable_files
from openintern.config import Settings
from openintern.egress import egress_purpose
from openintern.private_paths import PrivatePaths

if TYPE_CHECKING:
    from huggingface_hub import HfApi, JobInfo

T = TypeVar("T")

_STAGES: dict[str, JobState] = {
    "SCHEDULING": "queued",
    "RUNNING": "running",
    "UPDATING": "running",
    "COMPLETED": "succeeded",
    "CANCELED": "cancelled",
    "DELETED": "cancelled",
    "ERROR": "failed",
}
_TIMEOUT_MESSAGE = re.compile(r"time ?out|timed out", re.IGNORECASE)
_LABEL_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
CODE_ENV_VAR = "OPENINTERN_CODE_TGZ_B64"
MAX_CODE_B64_BYTES = 512 * 1024
DEFAULT_IMAGE = "python:3.12"
DEFAULT_FLAVOR = "cpu-basic"
DEFAULT_TIMEOUT_S = 3600.0


def pack_code(root: Path, *, max_b64_bytes: int = MAX_CODE_B64_BYTES,
              private: PrivatePaths | None = None) -> str:
    """``root`` as a base64 tar.gz (caches, VCS folders, ``.openintern/`` and ``.env*``
    files left out, and every file under
    ``private`` paths)."""
    return pack_code_listing(root, max_b64_bytes=max_b64_bytes, private=private)[0]


def pack_code_listing(root: Path, *, max_b64_bytes: int = MAX_CODE_B64_BYTES,
                      private: PrivatePaths | None = None
                      ) -> tuple[str, list[str], list[str]]:
    """:func:`pack_code`, plus the packed files and the private files left out."""
    if not root.is_dir():
        raise JobBackendError(f"working directory {root} does not exist")
    files, left_out = packable_files(root, private)
    buffer = io.BytesIO()

    def normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in files:
            archive.add(path, arcname=f"./{path.relative_to(root).as_posix()}",
                        recursive=False, filter=normalise)
    encoded = base64.b64encode(buffer.getvalue()).decode()
    if len(encoded) > max_b64_bytes:
        raise JobBackendError(
            f"the working directory {root} is too large to ship to HF Jobs "
            f"({len(encoded) // 1024} KiB encoded, limit {max_b64_bytes // 1024} KiB): keep "
            "only code in it and have the job download data from the Hub"
        )
    return encoded, [p.relative_to(root).as_posix() for p in files], left_out


class HfJobsBackend:
    """Submit, inspect and stop Hugging Face Jobs. Job ids are ``"<namespace>/<id>"``."""

    name = "hf"

    def __init__(
        self,
        *,
        endpoint: str = "https://huggingface.co",
        token: str | None,
        namespace: str | None = None,
        secret_values: Mapping[str, str] | None = None,
        default_image: str = DEFAULT_IMAGE,
        default_flavor: str = DEFAULT_FLAVOR,
        default_timeout_s: float = DEFAULT_TIMEOUT_S,
        cancel_wait_s: float = 15.0,
        private: PrivatePaths | None = None,
        allowed_secrets: Iterable[str] = (),
    ) -> None:
        """``allowed_secrets``: the user's ``job_secrets`` allowlist; ``secret_values``
        where their values come from (default: the agent's environment)."""
        self.allowed_secrets = list(allowed_secrets)
        if not token:
            raise JobBackendError(
                "Hugging Face Jobs needs a token with write access: set HF_TOKEN "
                "(or OPENINTERN_HF_TOKEN); create one at https://huggingface.co/settings/tokens"
            )
        self.endpoint = endpoint.rstrip("/")
        self._token = token
        self._namespace = namespace
        # Where named secrets are looked up (the agent's environment by default).
        self._secret_values = dict(os.environ if secret_values is None else secret_values)
        self.default_image = default_image
        self.default_flavor = default_flavor
        self.default_timeout_s = default_timeout_s
        self._cancel_wait_s = cancel_wait_s
        self.private = private  # never packed into a job
        self._prices: dict[str, float] | None = None
        self._api: HfApi | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> HfJobsBackend:
        """The backend for ``settings.hf_endpoint`` and ``settings.hf_token``."""
        token = settings.hf_token.get_secret_value() if settings.hf_token else None
        values = dict(os.environ)
        if token:
            values.setdefault("HF_TOKEN", token)
        return cls(endpoint=settings.hf_endpoint, token=token, secret_values=values,
                   private=PrivatePaths.of(settings.workspace, settings.private_paths),
                   allowed_secrets=settings.job_secrets)

    # --- plumbing ---------------------------------------------------------------------
    def _client(self) -> HfApi:
        if self._api is None:
            from huggingface_hub import HfApi

            self._api = HfApi(endpoint=self.endpoint, token=self._token)
        return self._api

    async def _call(self, doing: str, fn: Callable[[], T]) -> T:
        """Run a blocking ``huggingface_hub`` call in a thread; map its errors to ours."""
        try:
            return await asyncio.to_thread(fn)
        except JobBackendError:
            raise
        except Exception as exc:
            raise self._translate(exc, doing) from exc

    def _translate(self, exc: Exception, doing: str) -> JobBackendError:
        import httpx
        from huggingface_hub.errors import HfHubHTTPError

        if isinstance(exc, HfHubHTTPError) and exc.response is not None:
            code = exc.response.status_code
            server = (exc.server_message or "").strip()
            said = f" The service said: {server}" if server else ""
            if code == 401:
                return JobBackendError(
                    f"Hugging Face rejected the token while trying to {doing} (HTTP 401): set "
                    "HF_TOKEN to a valid token with write access (https://huggingface.co/"
                    f"settings/tokens). Nothing was launched or changed.{said}"
                )
            if code == 402:
                return JobBackendError(
                    f"Hugging Face Jobs refused to {doing}: payment required (HTTP 402). Add "
                    f"credits or a payment method at {self.endpoint}/settings/billing. Nothing "
                    f"was launched, and no other backend was tried in its place.{said}"
                )
            if code == 403:
                return JobBackendError(
                    f"Hugging Face forbids this token to {doing} (HTTP 403): it needs write "
                    f"access to the namespace.{said}"
                )
            if code == 404:
                return JobBackendError(f"Hugging Face found no such job while trying to {doing}.")
            return JobBackendError(f"Hugging Face could not {doing} (HTTP {code}).{said}")
        if isinstance(exc, httpx.TransportError):
            return JobBackendError(
                f"cannot reach Hugging Face at {self.endpoint} to {doing} "
                f"({exc.__class__.__name__}); check the network or OPENINTERN_HF_ENDPOINT"
            )
        return JobBackendError(f"could not {doing} on Hugging Face Jobs: {exc!r}")

    async def _namespace_for_submit(self) -> str:
        if self._namespace is None:
            who = await self._call("identify the token's user",
                                   lambda: self._client().whoami(cache=True))
            self._namespace = str(who["name"])
        return self._namespace

    @staticmethod
    def _split(job_id: str) -> tuple[str, str]:
        namespace, sep, bare = job_id.rpartition("/")
        if not sep or not namespace or not bare:
            raise JobBackendError(f"{job_id!r} is not an HF job id (expected namespace/id)")
        return namespace, bare

    # --- cost ---------------------------------------------------------------------------
    async def hourly_price_usd(self, flavor: str) -> float | None:
        """The flavor's price per hour: the live hardware list, else the docs table."""
        if self._prices is None:
            try:
                entries = await self._call(
                    "list hardware",
                    lambda: self._client().list_jobs_hardware(),
                )
                self._prices = hourly_prices_from_hardware(
                    {"name": e.name, "unitCostUSD": e.unit_cost_usd, "unitLabel": e.unit_label}
                    for e in entries
                )
            except JobBackendError:
                self._prices = {}
        return self._prices.get(flavor, DOCS_HOURLY_USD.get(flavor))

    async def estimate_cost_usd(self, spec: JobSpec) -> float | None:
        """What the job costs if it runs to its time limit; None for an unpriced flavor."""
        flavor = self._flavor(spec)
        price = await self.hourly_price_usd(flavor)
        if price is None:
            return None
        return estimate_cost_usd(price, spec.timeout_s or self.default_timeout_s)

    # --- JobBackend -----------------------------------------------------------------------
    def _flavor(self, spec: JobSpec) -> str:
        if spec.flavor:
            return spec.flavor
        if spec.gpus:
            raise JobBackendError(
                f"the job asks for {spec.gpus} GPU(s) but names no HF hardware flavor: set "
                "flavor (e.g. t4-small, l4x1, a10g-small, a100-large)"
            )
        return self.default_flavor

    def build_job(self, spec: JobSpec, code_b64: str) -> dict[str, Any]:
        """The keyword arguments of ``HfApi.run_job`` for ``spec`` (secrets resolved)."""
        check_secret_names(spec.secrets, self.allowed_secrets)
        env, _dropped = scrub_env(spec.env)
        missing = [n for n in spec.secrets if not self._secret_values.get(n)]
        if missing:
            raise JobBackendError(
                f"the job needs secret(s) {', '.join(missing)} but they are not set in the "
                "agent's environment; export them before starting the agent"
            )
        secrets = {n: self._secret_values[n] for n in spec.secrets}
        # The platform enforces the time limit; the wrapper must not add its own.
        inner = wrapped_command(replace(spec, timeout_s=None), pip=True)
        script = "\n".join([
            'mkdir -p "${TMPDIR:-/tmp}/openintern-job" && cd "${TMPDIR:-/tmp}/openintern-job"',
            f'printf %s "${CODE_ENV_VAR}" | base64 -d | tar -xzf - || exit 2',
            f"unset {CODE_ENV_VAR}",
            inner,
        ])
        name = _LABEL_UNSAFE.sub("-", spec.name or "openintern-job").strip("-")[:60]
        return {
            "image": spec.image or self.default_image,
            "command": ["bash", "-c", script],
            "env": {**env, CODE_ENV_VAR: code_b64},
            "secrets": secrets or None,
            "flavor": self._flavor(spec),
            "timeout": int(spec.timeout_s or self.default_timeout_s),
            "name": name or "openintern-job",
            "labels": {"openintern": "1"},
        }

    async def submit(self, spec: JobSpec) -> str:
        """Launch the job (costs money: estimate and approve first). Returns ``ns/id``."""
        code, files, left_out = await asyncio.to_thread(
            pack_code_listing, Path(spec.workdir), private=self.private)
        kwargs = self.build_job(spec, code)
        namespace = await self._namespace_for_submit()
        with egress_purpose("HF Jobs launch (code package in the job's environment)",
                            "job_package", files=files, private_left_out=left_out):
            info = await self._call(
                "launch the job",
                lambda: self._client().run_job(namespace=namespace, **kwargs),
            )
        return f"{namespace}/{info.id}"

    async def status(self, job_id: str) -> JobStatus:
        """The job's stage mapped to a JobState (the stage's message is the detail)."""
        namespace, bare = self._split(job_id)
        info = await self._call(
            f"inspect job {job_id}",
            lambda: self._client().inspect_job(job_id=bare, namespace=namespace),
        )
        return self._to_status(job_id, info)

    def _to_status(self, job_id: str, info: JobInfo) -> JobStatus:
        stage = str(getattr(info.status.stage, "value", info.status.stage))
        message = info.status.message or ""
        state = _STAGES.get(stage, "unknown")
        if state == "failed" and _TIMEOUT_MESSAGE.search(message):
            state = "timeout"
        return JobStatus(
            job_id=job_id,
            backend=self.name,
            state=state,
            started_at=info.started_at.timestamp() if info.started_at else None,
            ended_at=info.finished_at.timestamp() if info.finished_at else None,
            detail=f"{stage}: {message}" if message else stage,
        )

    async def logs(self, job_id: str, *, tail: int | None = 200) -> str:
        """The job's output so far (the service's SSE log stream, not followed)."""
        namespace, bare = self._split(job_id)
        lines = await self._call(
            f"fetch the logs of job {job_id}",
            lambda: list(self._client().fetch_job_logs(
                job_id=bare, namespace=namespace, follow=False, tail=tail
            )),
        )
        if tail is not None:
            lines = lines[-tail:] if tail > 0 else []
        return "\n".join(line.rstrip("\n") for line in lines)

    async def cancel(self, job_id: str) -> JobStatus:
        """Cancel the job and wait briefly for the service to report it stopped."""
        current = await self.status(job_id)
        if current.done:
            return current
        namespace, bare = self._split(job_id)
        await self._call(
            f"cancel job {job_id}",
            lambda: self._client().cancel_job(job_id=bare, namespace=namespace),
        )
        deadline = time.monotonic() + self._cancel_wait_s
        while True:
            current = await self.status(job_id)
            if current.done or time.monotonic() > deadline:
                return current
            await asyncio.sleep(0.5)

    async def list_jobs(self) -> list[JobStatus]:
        """The namespace's jobs that OpenIntern launched."""
        namespace = await self._namespace_for_submit()
        infos = await self._call(
            "list jobs",
            lambda: list(self._client().list_jobs(namespace=namespace,
                                                  labels={"openintern": "1"})),
        )
        return [self._to_status(f"{namespace}/{info.id}", info) for info in infos]
