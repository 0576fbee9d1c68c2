"""Job backends by name: ``make_backend("local", settings, workspace, sandbox)``.

Each backend module registers one constructor in :data:`BACKEND_FACTORIES`; the factory
imports lazily so an unused backend's dependencies (ray, huggingface_hub) cost nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from openintern.compute.base import JobBackend, JobBackendError

if TYPE_CHECKING:
    from openintern.config import Settings
    from openintern.sandbox.base import Sandbox

BackendFactory = Callable[["Settings", Path, "Sandbox"], JobBackend]


def _local(settings: Settings, workspace: Path, sandbox: Sandbox) -> JobBackend:
    from openintern.compute.local import LocalBackend

    return LocalBackend(workspace, sandbox, max_output_mib=settings.job_max_output_mib,
                        cgroup_root=str(settings.cgroup_root) if settings.cgroup_root else None,
                        allowed_secrets=settings.job_secrets)


def _ray(settings: Settings, workspace: Path, sandbox: Sandbox) -> JobBackend:
    from openintern.compute.ray_backend import RayJobsBackend

    return RayJobsBackend.from_settings(settings)


def _hf(settings: Settings, workspace: Path, sandbox: Sandbox) -> JobBackend:
    from openintern.compute.hf_jobs import HfJobsBackend

    return HfJobsBackend.from_settings(settings)


#: name -> constructor(settings, workspace, sandbox). Add one line per backend.
BACKEND_FACTORIES: dict[str, BackendFactory] = {
    "local": _local,
    "ray": _ray,
    "hf": _hf,
}


def make_backend(name: str, settings: Settings, workspace: Path, sandbox: Sandbox) -> JobBackend:
    """Build the backend called ``name``; raises JobBackendError naming the known ones."""
    factory = BACKEND_FACTORIES.get(name)
    if factory is None:
        raise JobBackendError(
            f"unknown job backend {name!r}; available: {', '.join(sorted(BACKEND_FACTORIES))}"
        )
    return factory(settings, workspace, sandbox)


def backend_from_services(
    services: dict[str, object], name: str, settings: Settings, workspace: Path,
    sandbox: Sandbox,
) -> JobBackend:
    """The backend ``name`` from ``services["backends"]`` (a dict name -> backend),
    building and caching it there on first use. A ``services["backend_meter"]`` (the
    session's cost accounting) wraps each backend it builds."""
    pool = services.setdefault("backends", {})
    if not isinstance(pool, dict):
        raise JobBackendError("services['backends'] must be a dict of name -> backend")
    backend = pool.get(name)
    if backend is None:
        backend = make_backend(name, settings, workspace, sandbox)
        meter = services.get("backend_meter")
        if callable(meter):
            backend = meter(backend)
        pool[name] = backend
    return backend
