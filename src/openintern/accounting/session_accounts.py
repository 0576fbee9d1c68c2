"""A root session's accounting, built from its settings: the cost accountant, the
egress gate (policy and log), the private-data filter, and the model wrapper that ties
them to every model call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from openintern.accounting.accountant import Budget, CostAccountant, Notify
from openintern.accounting.accounted_model import AccountedModel
from openintern.accounting.compute_meter import metered
from openintern.accounting.egress_log import EgressLog
from openintern.accounting.private_filter import PrivateDataFilter
from openintern.compute.base import JobBackend
from openintern.config import Settings
from openintern.egress import Destination, EgressGate, EgressPolicy, endpoint, local_allowlist
from openintern.llm.types import LLMClient
from openintern.private_paths import PrivatePaths
from openintern.store import Store


class EgressPolicyError(ValueError):
    """The session cannot run under its egress policy (its model is not reachable)."""


def egress_policy(settings: Settings) -> EgressPolicy:
    """The policy the settings ask for (local-only adds the session's loopback endpoints
    to the user's allowlist)."""
    if settings.egress == "open":
        return EgressPolicy("open", tuple(settings.egress_allowlist))
    configured = [settings.api_base, settings.ray_address]
    return EgressPolicy("local-only", local_allowlist(configured, settings.egress_allowlist))


def service_names(settings: Settings) -> dict[str, str]:
    """``host:port`` -> service name of every endpoint the settings configure."""
    named = [
        (settings.api_base, "model server"), (settings.arxiv_api_url, "arXiv API"),
        (settings.arxiv_web_url, "arXiv web"), (settings.semantic_scholar_url, "Semantic Scholar"),
        (settings.hf_endpoint, "Hugging Face Hub"),
        (settings.datasets_server_url, "HF dataset viewer"),
        (settings.github_api_url, "GitHub API"), (settings.web_search_url, "web search"),
        (settings.ray_address, "Ray dashboard"),
    ]
    names: dict[str, str] = {}
    for url, name in named:
        label = endpoint(url)
        if label is not None:
            names.setdefault(label, name)  # first wins: several may share a host in tests
    return names


def recorded_gate(settings: Settings, store: Store, session_id: str) -> EgressGate:
    """The egress gate of a recorded session, for work done on it outside a turn (an
    export's Hub push): its log, and its policy as recorded (local-only stays so)."""
    from openintern.accounting.report import root_of

    root = root_of(store, session_id)
    recorded = store.get_session(root).config.get("accounting") or {}
    if recorded.get("egress") == "local-only":
        settings = settings.model_copy(update={"egress": "local-only"})
    return EgressGate(egress_policy(settings), EgressLog(store, root), root,
                      services=service_names(settings))


def check_model_reachable(settings: Settings, policy: EgressPolicy) -> None:
    """Refuse to start a local-only session whose model the policy would refuse."""
    if policy.mode == "open":
        return
    where = endpoint(settings.api_base)
    if where is None:
        raise EgressPolicyError(
            f"--local-only: model {settings.model} is served by its provider over the "
            "internet, which local-only mode refuses. Use a model server on this machine "
            "(e.g. --model openai/<name> --api-base http://127.0.0.1:8000/v1 for vLLM, or "
            "--model ollama/<name> --api-base http://127.0.0.1:11434), or add its host to "
            "egress_allowlist.")
    if not policy.permits(Destination.of(f"http://{where}")):
        raise EgressPolicyError(
            f"--local-only: the model server {where} is not on this machine nor in "
            "egress_allowlist; add it there if your security policy allows it.")


def session_budget(settings: Settings, headless: bool) -> Budget:
    """The limits of a session: dollars (explicit, or the headless default) and tokens."""
    return Budget(usd=settings.effective_budget(headless), tokens=settings.token_budget,
                  usd_explicit=settings.max_cost_usd is not None)


@dataclass
class SessionAccounts:
    """Everything accounting a root session needs (see the module docstring)."""

    accountant: CostAccountant
    gate: EgressGate
    private: PrivateDataFilter | None
    settings: Settings

    @classmethod
    def create(cls, settings: Settings, store: Store, root_session_id: str, *,
               headless: bool, notify: Notify | None = None) -> SessionAccounts:
        """Build them; raises :class:`EgressPolicyError` when local-only mode would refuse
        the session's own model."""
        policy = egress_policy(settings)
        check_model_reachable(settings, policy)
        accountant = CostAccountant(
            store, root_session_id, session_budget(settings, headless),
            compute_prices=settings.compute_prices, notify=notify)
        gate = EgressGate(policy, EgressLog(store, root_session_id), root_session_id,
                          services=service_names(settings))
        paths = PrivatePaths.of(settings.workspace, settings.private_paths)
        private = PrivateDataFilter(paths, view=settings.private_data_view) if paths else None
        return cls(accountant, gate, private, settings)

    def wrap_model(self, llm: LLMClient) -> AccountedModel:
        """``llm`` with every call accounted (the session's one model client)."""
        inner = llm.inner if isinstance(llm, AccountedModel) else llm
        return AccountedModel(inner, self.accountant, model_prices=self.settings.model_prices,
                              private=self.private)

    @property
    def backend_meter(self) -> Callable[[JobBackend], JobBackend]:
        """The wrapper every job backend of the session gets."""
        return metered(self.accountant)
