"""One ``Settings`` object for the whole program.

Sources, lowest priority first: defaults < config file
(``~/.config/openintern/config.toml``, or ``$OPENINTERN_CONFIG``) < ``.env`` in the current
directory < environment variables (``OPENINTERN_*``, plus the usual token names) < CLI flags
(passed as keyword arguments).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from openintern.machine import default_max_memory_mib, default_max_processes
from openintern.secrets import looks_secret

# The newest Claude Sonnet that LiteLLM's bundled price table knows (a test checks this
# against the installed table, so an upgrade that adds a newer one fails loudly).
DEFAULT_MODEL = "anthropic/claude-sonnet-5-5"


def config_dir() -> Path:
    """Where the user's config file lives (platform convention)."""
    from platformdirs import user_config_dir

    return Path(user_config_dir("openintern", appauthor=False))


def data_dir() -> Path:
    """Where the default SQLite store and caches live (platform convention)."""
    override = os.environ.get("OPENINTERN_DATA_DIR")
    if override:
        return Path(override)
    from platformdirs import user_data_dir

    return Path(user_data_dir("openintern", appauthor=False))


def config_file() -> Path:
    """The TOML config file in effect."""
    override = os.environ.get("OPENINTERN_CONFIG")
    return Path(override) if override else config_dir() / "config.toml"


# --- integrations (MCP servers, experiment trackers, notifications) --------------------
class McpServerConfig(BaseModel):
    """One MCP server whose tools the agent may use: a command (stdio) or a URL
    (streamable HTTP). Its tools are offered as ``mcp__<server>__<tool>``."""

    model_config = ConfigDict(extra="forbid")

    command: str | None = Field(None, description="Program to start (stdio transport).")
    args: list[str] = Field(default_factory=list, description="Its arguments.")
    env: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Extra environment for the program (it gets no other secrets).",
    )
    cwd: Path | None = Field(None, description="Working directory of the program.")
    url: str | None = Field(None, description="Endpoint of a streamable HTTP server.")
    headers: dict[str, SecretStr] = Field(
        default_factory=dict, description="HTTP headers (e.g. Authorization) for url."
    )
    start_timeout_s: float = Field(
        10.0, gt=0, description="Skip the server when it has not started after this long."
    )
    call_timeout_s: float = Field(120.0, gt=0, description="Longest wait for one tool call.")
    trusted: bool = Field(
        False, description="Run its tools without asking (default: every call needs approval)."
    )
    trusted_tools: list[str] = Field(
        default_factory=list, description="Tools of this server that run without asking."
    )

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerConfig:
        if (self.command is None) == (self.url is None):
            raise ValueError("an MCP server needs exactly one of `command` (stdio) or `url`")
        return self


NotificationEvent = Literal["approval", "job", "budget", "session"]
ALL_NOTIFICATION_EVENTS: tuple[NotificationEvent, ...] = ("approval", "job", "budget", "session")


class NotificationTarget(BaseModel):
    """Where notifications go: a Slack-compatible webhook, an ntfy topic, or email."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["webhook", "ntfy", "email"]
    url: SecretStr | None = Field(None, description="webhook: its URL; ntfy: the topic URL.")
    token: SecretStr | None = Field(None, description="ntfy: access token (Bearer).")
    smtp_host: str | None = Field(None, description="email: SMTP server.")
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_security: Literal["starttls", "ssl", "none"] = Field(
        "starttls", description="email: how the SMTP connection is protected."
    )
    username: str | None = Field(None, description="email: SMTP user name.")
    password: SecretStr | None = Field(None, description="email: SMTP password.")
    sender: str | None = Field(None, description="email: From address.")
    recipients: list[str] = Field(default_factory=list, description="email: To addresses.")
    events: list[NotificationEvent] = Field(
        default_factory=lambda: list(ALL_NOTIFICATION_EVENTS),
        description="Which events to send.",
    )

    @model_validator(mode="after")
    def _complete(self) -> NotificationTarget:
        if self.kind in ("webhook", "ntfy") and self.url is None:
            raise ValueError(f"a {self.kind} notification target needs `url`")
        if self.kind == "email" and not (self.smtp_host and self.sender and self.recipients):
            raise ValueError("an email notification target needs smtp_host, sender, recipients")
        return self
class ModelPrice(BaseModel):
    """Dollars per million tokens of one model (an entry of ``model_prices``)."""

    input_per_mtok: float = Field(ge=0, allow_inf_nan=False,
                                  description="Prompt tokens, dollars per million.")
    output_per_mtok: float = Field(ge=0, allow_inf_nan=False,
                                   description="Completion tokens, dollars per million.")
    cached_input_per_mtok: float | None = Field(
        None, ge=0, allow_inf_nan=False,
        description="Prompt tokens read from the provider's cache (default: input price).")
    source: str = Field("model_prices setting", description="Where the price comes from.")

    def cost_usd(self, prompt: int, completion: int, cached: int = 0) -> float:
        """Dollars of one call (``cached`` is the part of ``prompt`` read from cache)."""
        cached = max(0, min(cached, prompt))
        cached_price = (self.cached_input_per_mtok if self.cached_input_per_mtok is not None
                        else self.input_per_mtok)
        return ((prompt - cached) * self.input_per_mtok + cached * cached_price
                + completion * self.output_per_mtok) / 1_000_000

    def completion_tokens_for(self, usd: float) -> int:
        """How many completion tokens ``usd`` buys (a very large number when free)."""
        if self.output_per_mtok <= 0:
            return 2**31
        return max(0, int(usd * 1_000_000 / self.output_per_mtok))


class ComputePrice(BaseModel):
    """Dollars per hour of a backend's hardware (an entry of ``compute_prices``)."""

    gpu_hour_usd: float = Field(0.0, ge=0, allow_inf_nan=False,
                                description="Dollars per GPU-hour (GPU jobs).")
    cpu_hour_usd: float = Field(0.0, ge=0, allow_inf_nan=False,
                                description="Dollars per job-hour of CPU jobs.")

    def cost_usd(self, gpu_hours: float, cpu_hours: float) -> float:
        """Dollars of that many hours."""
        return gpu_hours * self.gpu_hour_usd + cpu_hours * self.cpu_hour_usd


class Settings(BaseSettings):
    """Everything configurable. Field descriptions double as ``intern config`` help."""

    model_config = SettingsConfigDict(
        env_prefix="OPENINTERN_",
        env_file=".env",
        extra="ignore",
        populate_by_name=True,
    )

    # --- model ---------------------------------------------------------------------
    model: str = Field(DEFAULT_MODEL, description="LiteLLM model id, e.g. openai/gpt-5.")
    api_base: str | None = Field(
        None, description="Base URL of an OpenAI-compatible server (vLLM, Ollama, ...)."
    )
    api_key: SecretStr | None = Field(
        None, description="API key for api_base; providers otherwise read their own vars."
    )
    context_window: int | None = Field(
        None, ge=1024, description="Override the model's context window (tokens)."
    )
    max_output_tokens: int = Field(8192, ge=64, description="Cap on tokens per reply.")
    request_timeout_s: float = Field(600.0, gt=0, description="Per model call timeout.")
    max_retries: int = Field(6, ge=0, description="Retries on 429/5xx/timeouts/cut streams.")
    retry_base_delay_s: float = Field(1.0, ge=0, description="First backoff delay.")
    retry_max_delay_s: float = Field(60.0, ge=0, description="Longest backoff delay.")

    # --- loop ------------------------------------------------------------------------
    max_iterations: int = Field(300, ge=1, description="Model calls per task at most.")
    max_cost_usd: float | None = Field(
        None, ge=0, description="Stop cleanly when the session's model cost reaches this."
    )
    headless_budget_usd: float = Field(
        10.0, ge=0, description="Budget used in headless runs when max_cost_usd is unset."
    )
    auto_approve: bool = Field(False, description="Approve every action (headless CI).")
    compute_budget_usd: float | None = Field(
        None,
        ge=0,
        description="Dollars of paid compute (estimated, e.g. HF Jobs) the agent may launch "
        "per session without asking; beyond it every paid launch needs approval.",
    )

    # --- context ---------------------------------------------------------------------
    compaction_threshold: float = Field(
        0.75, gt=0.1, lt=1.0, description="Compact when the prompt passes this share."
    )
    context_budget_tokens: int = Field(
        16_000, ge=0, description="Conversation tokens (beyond system prompt and tool "
        "specs) each request is kept near, whatever the window; 0: use the window.")
    mask_keep_tokens: int = Field(
        3_000, ge=0, description="Newest tool outputs kept verbatim, in tokens.")
    mask_batch_tokens: int = Field(
        4_000, ge=0, description="Mask older outputs once they exceed the above by this.")
    summary_min_steps: int = Field(
        20, ge=1, description="Steps between summaries, unless the window forces one.")
    tool_output_max_chars: int = Field(
        16_000, ge=1000, description="Longer tool output is cut head+tail and spilled."
    )

    # --- workspace and sandbox -----------------------------------------------------------
    workspace: Path = Field(
        default_factory=Path.cwd, description="Directory the agent reads and writes."
    )
    sandbox: Literal["bwrap", "none"] = Field(
        "bwrap", description="bwrap (bubblewrap, default) or none (no isolation)."
    )
    sandbox_network: Literal["off", "egress", "full"] = Field(
        "egress",
        description="Network inside the sandbox: off; egress (default: internet only, "
        "not the host's own services or private networks; pip install works); full (the "
        "host's network, loopback included: explicit opt-in).",
    )
    shell_timeout_s: int = Field(600, ge=1, description="Default shell command timeout.")

    # --- containment: sandbox limits, network exceptions, job secrets ------------------
    sandbox_max_processes: int = Field(
        default_factory=default_max_processes, ge=0,
        description="Processes (and threads) per command and per job (0: no limit).",
    )
    sandbox_max_memory_mib: int = Field(
        default_factory=default_max_memory_mib, ge=0,
        description="Memory per command and per job in MiB (0: no limit).",
    )
    sandbox_max_cpu_s: int | None = Field(
        None, ge=1, description="CPU seconds per process inside the sandbox (none: no limit)."
    )
    job_max_output_mib: int = Field(
        100, ge=1, description="A job's output log keeps this much; then metric lines and "
        "the last lines only.",
    )
    cgroup_root: Path | None = Field(
        None, description="A delegated cgroup v2 folder for the limits (default: found).",
    )
    sandbox_egress_allow: list[str] = Field(
        default_factory=list,
        description="Private networks (CIDRs) the egress sandbox may reach, e.g. a proxy.",
    )
    job_secrets: list[str] = Field(
        default_factory=list,
        description="Names of secrets jobs may receive (e.g. WANDB_API_KEY); every "
        "forwarding still needs a person's approval.",
    )
    web_fetch_allow: list[str] = Field(
        default_factory=list,
        description="Hosts or CIDRs the web tool may fetch although they are private "
        "(e.g. an intranet wiki); loopback and metadata addresses stay refused otherwise.",
    )

    @field_validator("sandbox_network", mode="before")
    @classmethod
    def _network_level(cls, value: object) -> object:
        # --network/--no-network and older configs give booleans: egress / off.
        if isinstance(value, bool):
            return "egress" if value else "off"
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
            return "egress" if value.strip().lower() in ("true", "1") else "off"
        return value

    # --- store -----------------------------------------------------------------------------
    store_url: str | None = Field(
        None, description="SQLAlchemy URL; default a SQLite file in the data directory."
    )

    # --- external services (base URLs are settings so mirrors and tests can redirect) ---
    arxiv_api_url: str = "https://export.arxiv.org/api/query"
    arxiv_web_url: str = "https://arxiv.org"
    semantic_scholar_url: str = "https://api.semanticscholar.org"
    hf_endpoint: str = Field(
        "https://huggingface.co",
        validation_alias=AliasChoices("OPENINTERN_HF_ENDPOINT", "HF_ENDPOINT"),
    )
    datasets_server_url: str = "https://datasets-server.huggingface.co"
    github_api_url: str = "https://api.github.com"
    web_search_provider: Literal["searxng"] | None = Field(
        None, description="Web search provider for the web tool (none: search disabled)."
    )
    web_search_url: str | None = Field(None, description="Base URL of the search provider.")
    http_timeout_s: float = Field(30.0, gt=0, description="External API call timeout.")
    cache_ttl_s: int = Field(7 * 24 * 3600, ge=0, description="On-disk cache lifetime.")

    hf_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("OPENINTERN_HF_TOKEN", "HF_TOKEN")
    )
    github_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("OPENINTERN_GITHUB_TOKEN", "GITHUB_TOKEN")
    )
    semantic_scholar_api_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices(
            "OPENINTERN_SEMANTIC_SCHOLAR_API_KEY", "SEMANTIC_SCHOLAR_API_KEY"
        ),
    )

    # --- compute -----------------------------------------------------------------------
    job_backend: Literal["local", "ray", "hf"] = Field("local", description="Default backend.")
    ray_address: str | None = Field(None, description="Ray dashboard URL, e.g. http://h:8265.")
    ray_auth_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("OPENINTERN_RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN")
    )

    # --- synthetic data (the synthesize tool) ------------------------------------------
    generator_model: str | None = Field(
        None, description="LiteLLM model the synthesize tool generates with (default: the "
        "session's model)."
    )
    generator_api_base: str | None = Field(None, description="Base URL for generator_model.")
    generator_api_key: SecretStr | None = Field(None, description="API key for generator_model.")

    # --- web ---------------------------------------------------------------------------
    web_host: str = "127.0.0.1"
    web_port: int = Field(8765, ge=1, le=65535)
    web_token: SecretStr | None = None
    web_users: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Per-user access tokens (name -> token); each sees only their sessions.",
    )

    # --- integrations: MCP servers, experiment trackers, notifications -------------------
    mcp_servers: dict[str, McpServerConfig] = Field(
        default_factory=dict,
        description="MCP servers whose tools the agent may use (name -> command or url).",
    )
    trackers: list[Literal["mlflow", "trackio", "wandb"]] = Field(
        default_factory=list,
        description="Experiment trackers that finished ledger runs are mirrored to.",
    )
    tracker_project: str = Field(
        "openintern", description="Project (MLflow experiment, W&B/Trackio project) name."
    )
    mlflow_tracking_uri: str | None = Field(
        None, description="MLflow tracking URI (default: MLflow's own, MLFLOW_TRACKING_URI)."
    )
    wandb_mode: Literal["online", "offline"] | None = Field(
        None, description="W&B mode (default: W&B's own, WANDB_MODE)."
    )
    wandb_dir: Path | None = Field(None, description="Where W&B writes its run files.")
    notifications: list[NotificationTarget] = Field(
        default_factory=list,
        description="Webhook/ntfy/email targets for approvals, jobs, budget, session end.",
    )
    notify_budget_fraction: float = Field(
        0.8, gt=0, le=1, description="Notify once when this share of the budget is spent."
    )
    notify_approval_after_s: float = Field(
        2.0, ge=0, description="Notify when an approval has waited this long."
    )

    # --- accounting: one cost ledger, the egress policy, private data ------------------
    token_budget: int | None = Field(
        None, ge=0, description="Stop when the session's model tokens (prompt + completion, "
        "every spender: turns, summaries, sub-agents, tools) would pass this.",
    )
    model_prices: dict[str, ModelPrice] = Field(
        default_factory=dict,
        description="Prices of models LiteLLM cannot price (or overrides), by model id: "
        '{"openai/my-model": {"input_per_mtok": 0.5, "output_per_mtok": 1.5}}.',
    )
    compute_prices: dict[str, ComputePrice] = Field(
        default_factory=dict,
        description="Prices of Ray and local hours, by backend: "
        '{"ray": {"gpu_hour_usd": 2.0, "cpu_hour_usd": 0.05}} (default 0, hours still shown).',
    )
    egress: Literal["open", "local-only"] = Field(
        "open", description="open, or local-only: only the session's loopback endpoints and "
        "egress_allowlist may be reached; everything else is refused and logged; the "
        "sandbox network is off.",
    )
    egress_allowlist: list[str] = Field(
        default_factory=list,
        description="Destinations local-only mode may reach: host, host:port, *.domain, a "
        "CIDR, or 'loopback' (this machine, any port).",
    )
    private_paths: list[str] = Field(
        default_factory=list,
        description="Workspace paths (folders, files, globs) whose contents never leave: "
        "never packed into remote jobs, rows withheld from every prompt.",
    )
    private_data_view: Literal["schema", "summary"] = Field(
        "summary", description="What the model may learn of private files: their schema, "
        "or schema and summary statistics.",
    )
    research_max_tokens: int = Field(
        400_000, ge=2_000, description="Most tokens one research sub-agent may use.",
    )

    @model_validator(mode="before")
    @classmethod
    def _local_only_network(cls, data: object) -> object:
        # Local-only also means no network for sandboxed code (it could carry data out).
        if isinstance(data, dict) and data.get("egress") == "local-only":
            data = {**data, "sandbox_network": False}
        return data

    # --- web lab: per-user workspaces ---------------------------------------------------
    web_workspaces: Path | None = Field(
        None,
        description="Folder of the web users' workspaces, one per user (default: "
        "web-workspaces in the data directory).",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_file())
        return (init_settings, env_settings, dotenv_settings, toml)

    # --- derived ---------------------------------------------------------------------
    def resolved_store_url(self) -> str:
        """The store URL in effect (the SQLite default lives in the data directory)."""
        if self.store_url:
            return self.store_url
        path = data_dir() / "openintern.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"

    def effective_budget(self, headless: bool) -> float | None:
        """The dollar cap for a run: headless runs are never unbounded."""
        if self.max_cost_usd is not None:
            return self.max_cost_usd
        return self.headless_budget_usd if headless else None

    def secret_values(self) -> list[str]:
        """Every secret this configuration holds, for redaction."""
        values = []
        for name in (
            "api_key",
            "hf_token",
            "github_token",
            "semantic_scholar_api_key",
            "ray_auth_token",
            "web_token",
            "generator_api_key",
        ):
            secret = getattr(self, name)
            if secret is not None and secret.get_secret_value():
                values.append(secret.get_secret_value())
        values += [token.get_secret_value() for token in self.web_users.values()]
        for server in self.mcp_servers.values():
            values += [v.get_secret_value() for k, v in server.env.items() if looks_secret(k)]
            values += [v.get_secret_value() for v in server.headers.values()]
        for target in self.notifications:
            values += [v.get_secret_value() for v in (target.url, target.token, target.password)
                       if v is not None]
        values = [v for v in values if v]
        return values
