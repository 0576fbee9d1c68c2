"""The `intern` command. Heavy modules are imported inside commands so --help is instant."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from openintern.config import Settings

app = typer.Typer(
    name="intern",
    help="OpenIntern: an autonomous ML research agent.\n\n"
    'Run a task headless:  intern "train a classifier on data.csv"\n\n'
    "Interactive session:  intern\n\n"
    "Offline demo:         intern demo",
    no_args_is_help=False,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

ModelOpt = Annotated[str | None, typer.Option("--model", "-m", help="LiteLLM model id.")]
ApiBaseOpt = Annotated[
    str | None,
    typer.Option("--api-base", help="Base URL of an OpenAI-compatible server (vLLM, Ollama, ...)."),
]
WorkspaceOpt = Annotated[
    Path | None,
    typer.Option("--workspace", "-w", help="Directory the agent works in (default: current)."),
]
SandboxOpt = Annotated[
    str | None,
    typer.Option("--sandbox", help="bwrap (default) or none (no isolation: explicit opt-out)."),
]
NetOpt = Annotated[
    bool | None,
    typer.Option("--network/--no-network",
                 help="Network inside the sandbox: --network is egress (the default), "
                      "--no-network is off."),
]
NetLevelOpt = Annotated[
    str | None,
    typer.Option("--network-level",
                 help="off, egress (internet only, not this machine's services or private "
                      "networks; default) or full (the host's network: explicit opt-in)."),
]
BudgetOpt = Annotated[
    float | None,
    typer.Option("--budget", help="Stop before the session's cost (models, sub-agents, "
                 "summaries and compute) would pass this many dollars."),
]
ItersOpt = Annotated[
    int | None, typer.Option("--max-iterations", help="Model calls per task at most (default 300).")
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Approve every action.")]
TokenBudgetOpt = Annotated[
    int | None,
    typer.Option("--token-budget", help="Stop before the session's model tokens (all calls: "
                 "turns, summaries, sub-agents) pass this many."),
]
LocalOnlyOpt = Annotated[
    bool,
    typer.Option("--local-only", help="Only this machine's model server (and egress_allowlist) "
                 "may be reached; every other request is refused and logged; no sandbox network."),
]
PrivateOpt = Annotated[
    list[str] | None,
    typer.Option("--private", help="A workspace path whose contents must not leave the "
                 "machine (repeatable; adds to private_paths)."),
]
ComputeBudgetOpt = Annotated[
    float | None,
    typer.Option(
        "--compute-budget", help="Dollars of paid compute (HF Jobs) launched without asking."
    ),
]


def _settings(**overrides: Any) -> Settings:
    from openintern.config import Settings

    given = {k: v for k, v in overrides.items() if v is not None}
    if "budget" in given:
        given["max_cost_usd"] = given.pop("budget")
    if given.get("auto_approve") is False:
        given.pop("auto_approve")
    if given.pop("local_only", False):
        given["egress"] = "local-only"
    if given.get("private_paths") == []:
        given.pop("private_paths")
    try:
        return Settings(**given)
    except Exception as exc:
        _fail(f"invalid settings: {exc}")
        raise


def _private_paths(flags: list[str] | None) -> list[str] | None:
    """The --private flags added to the configured private_paths (None: none given)."""
    if not flags:
        return None
    from openintern.config import Settings

    return [*Settings().private_paths, *flags]


def _fail(message: str) -> None:
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True).print(f"[bold red]error:[/bold red] {escape(message)}")
    raise typer.Exit(2)


def _require_credentials(settings: Settings) -> None:
    """Stop before a session starts when the provider's key is missing (see
    llm/credentials.py); a provider that may find credentials elsewhere only warns."""
    from rich.console import Console
    from rich.markup import escape

    from openintern.config import config_file
    from openintern.llm.credentials import missing_credentials

    missing = missing_credentials(settings)
    if missing is None:
        return
    text = escape(missing.message(str(config_file())))
    if missing.certain:
        _fail(text)
    Console(stderr=True).print(f"[yellow]warning:[/yellow] {text}")


def _fail_ledger(exc: Exception) -> None:
    """A ledger error for the terminal: unknown ids point at `intern runs`."""
    from openintern.research.ledger import UnknownExperimentError

    if isinstance(exc, UnknownExperimentError):
        _fail(f"no experiment {exc.exp_id!r}; `intern runs` lists the experiments")
    _fail(str(exc))


@app.command("run")
def run_cmd(
    task: Annotated[
        str | None, typer.Argument(help="The research goal (omit for interactive).")
    ] = None,
    model: ModelOpt = None,
    api_base: ApiBaseOpt = None,
    workspace: WorkspaceOpt = None,
    sandbox: SandboxOpt = None,
    network: NetOpt = None,
    network_level: NetLevelOpt = None,
    budget: BudgetOpt = None,
    max_iterations: ItersOpt = None,
    yes: YesOpt = False,
    compute_budget: ComputeBudgetOpt = None,
    token_budget: TokenBudgetOpt = None,
    local_only: LocalOnlyOpt = False,
    private: PrivateOpt = None,
) -> None:
    """Run a task headless (with TASK) or start an interactive session (without)."""
    settings = _settings(
        model=model,
        api_base=api_base,
        workspace=workspace,
        sandbox=sandbox,
        sandbox_network=network_level if network_level is not None else network,
        budget=budget,
        max_iterations=max_iterations,
        auto_approve=yes,
        compute_budget_usd=compute_budget,
        token_budget=token_budget,
        local_only=local_only,
        private_paths=_private_paths(private),
    )
    _require_credentials(settings)
    from openintern.interactive import run_headless, run_interactive

    raise typer.Exit(run_interactive(settings) if task is None else run_headless(settings, task))


@app.command("resume")
def resume_cmd(
    session_id: Annotated[str, typer.Argument(help="Session id (or a unique prefix, or 'last').")],
    message: Annotated[
        str | None,
        typer.Option(
            "--message", "-M", help="Continue with this message instead of the interrupted turn."
        ),
    ] = None,
    interactive: Annotated[
        bool, typer.Option("--interactive", "-i", help="Open an interactive prompt after resuming.")
    ] = False,
    model: ModelOpt = None,
    api_base: ApiBaseOpt = None,
    sandbox: SandboxOpt = None,
    budget: BudgetOpt = None,
    max_iterations: ItersOpt = None,
    yes: YesOpt = False,
    compute_budget: ComputeBudgetOpt = None,
    token_budget: TokenBudgetOpt = None,
    local_only: LocalOnlyOpt = False,
    private: PrivateOpt = None,
) -> None:
    """Continue a session exactly where it stopped (even after the process was killed)."""
    settings = _settings(
        model=model,
        api_base=api_base,
        sandbox=sandbox,
        budget=budget,
        max_iterations=max_iterations,
        auto_approve=yes,
        compute_budget_usd=compute_budget,
        token_budget=token_budget,
        local_only=local_only,
        private_paths=_private_paths(private),
    )
    _require_credentials(settings)
    from openintern.interactive import resume_session

    raise typer.Exit(resume_session(settings, session_id, message, interactive))


@app.command("sessions")
def sessions_cmd(
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many to show.")] = 20,
) -> None:
    """List past sessions, newest first."""
    from rich.console import Console

    from openintern.agent.session import open_store
    from openintern.render import sessions_table

    store = open_store(_settings())
    rows = store.list_sessions(limit)
    console = Console()
    if not rows:
        console.print('No sessions yet. Start one with: intern "your research goal"')
        return
    console.print(sessions_table(rows))


@app.command("demo")
def demo_cmd(
    workspace: WorkspaceOpt = None,
    sandbox: SandboxOpt = None,
    fast: Annotated[bool, typer.Option("--fast", help="Fewer seeds (for tests).")] = False,
    llm: Annotated[bool, typer.Option("--llm", help="The LLM post-training demo instead: "
                                      "synthesize, SFT, evaluate, compare.")] = False,
) -> None:
    """Play an offline research session on scikit-learn's digits: scripted model turns,
    real tool calls, real training, real numbers. Needs no API key."""
    if llm:
        from openintern.demo.llm_runner import run_llm_demo

        raise typer.Exit(run_llm_demo(workspace=workspace, sandbox=sandbox, fast=fast))
    from openintern.demo.runner import run_demo

    raise typer.Exit(run_demo(workspace=workspace, sandbox=sandbox, fast=fast))


runs_app = typer.Typer(
    help="Experiments recorded in the ledger.",
    no_args_is_help=False,
    add_completion=False,
    rich_markup_mode=None,
)
app.add_typer(runs_app, name="runs")


@runs_app.callback(invoke_without_command=True)
def runs_list(
    ctx: typer.Context,
    session: Annotated[
        str | None, typer.Option("--session", "-s", help="Only this session.")
    ] = None,
) -> None:
    """List experiments (best first within each configuration)."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.console import Console

    from openintern.agent.session import open_store
    from openintern.research.ledger import Ledger
    from openintern.research.report import runs_table

    store = open_store(_settings())
    sid = store.resolve_session_id(session) if session else None
    Console().print(runs_table(Ledger(store), sid))


@runs_app.command("show")
def runs_show(
    exp_id: Annotated[str, typer.Argument(help="Experiment id.")],
    metric: Annotated[str | None, typer.Option("--metric", help="Metric to plot.")] = None,
    png: Annotated[Path | None, typer.Option("--png", help="Also write the plot to PNG.")] = None,
) -> None:
    """Show one experiment with a plot of its metric over steps."""
    from rich.console import Console

    from openintern.agent.session import open_store
    from openintern.research.ledger import Ledger, LedgerError
    from openintern.research.report import plot_metrics, run_detail

    ledger = Ledger(open_store(_settings()))
    console = Console()
    try:
        console.print(run_detail(ledger, exp_id))
        exp = ledger.get(exp_id)
        name = metric or exp.primary_metric or next(iter(exp.final_metrics), None)
        if name:
            console.print(plot_metrics(ledger, exp.id, name, png), markup=False)
    except LedgerError as exc:
        _fail_ledger(exc)


@app.command("reproduce")
def reproduce_cmd(
    exp_id: Annotated[str, typer.Argument(help="Experiment id to re-run.")],
    rtol: Annotated[float, typer.Option(help="Relative tolerance for metrics.")] = 1e-6,
    atol: Annotated[float, typer.Option(help="Absolute tolerance for metrics.")] = 1e-9,
    metric: Annotated[
        list[str] | None,
        typer.Option("--metric", help="Metric to judge (repeatable; default: the primary one)."),
    ] = None,
    timeout_s: Annotated[float, typer.Option(help="Give up after this many seconds.")] = 3600,
) -> None:
    """Re-run an experiment from its code snapshot, config and seed; report whether its
    primary metric matches within the tolerance (timing metrics are shown, not judged)."""
    import asyncio

    from rich.console import Console

    from openintern.agent.session import open_store
    from openintern.compute.registry import make_backend
    from openintern.research.ledger import Ledger, LedgerError
    from openintern.research.reproduce import reproduce
    from openintern.sandbox import make_sandbox

    settings = _settings()
    ledger = Ledger(open_store(settings))
    try:
        exp = ledger.get(exp_id)
        workspace = Path(exp.workdir or settings.workspace)
        if exp.snapshot_path:
            workspace = Path(exp.snapshot_path).parents[2]
        settings = settings.model_copy(update={"workspace": workspace})
        sandbox = make_sandbox(settings, workspace)
        name = exp.backend or "local"
        backends = {name: make_backend(name, settings, workspace, sandbox)}
        result = asyncio.run(reproduce(ledger, exp.id, backends, rtol=rtol, atol=atol,
                                       timeout_s=timeout_s, metrics=metric or ()))
    except LedgerError as exc:
        _fail_ledger(exc)
        return
    Console(highlight=False).print(result.summary(), markup=False)
    raise typer.Exit(0 if result.matched else 1)


@app.command("serve")
def serve_cmd(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8765).")] = None,
    open_browser: Annotated[bool, typer.Option("--open", help="Open it in a browser.")] = False,
) -> None:
    """Start the web app (prints a URL with an access token)."""
    try:
        from openintern.web.app import serve
        from openintern.web.auth import WebConfigError
    except ImportError as exc:
        _fail(f"the web app needs its extra: pip install 'openintern[web]' ({exc})")
        return
    try:
        code = serve(_settings(), host=host, port=port, open_browser=open_browser)
    except WebConfigError as exc:
        _fail(str(exc))
        return
    raise typer.Exit(code)


@app.command("config")
def config_cmd() -> None:
    """Show the settings in effect (secrets hidden) and where they come from."""
    from rich.console import Console
    from rich.table import Table

    from openintern.config import config_file
    from openintern.sandbox.commands import containment_summary
    from openintern.secrets import display_setting

    settings = _settings()
    table = Table(title=f"Settings (config file: {config_file()})")
    table.add_column("setting")
    table.add_column("value")
    for name in type(settings).model_fields:
        # Secrets as **********, passwords in URLs (store_url, ...) as [REDACTED].
        table.add_row(name, display_setting(name, getattr(settings, name)))
    console = Console()
    console.print(table)
    console.print(containment_summary(settings))


# Commands implemented in their own modules (imports there are cheap: typer only).
from openintern.accounting.commands import cost_command, egress_command  # noqa: E402
from openintern.bench.commands import bench_app  # noqa: E402
from openintern.evaluation.commands import eval_model_cmd  # noqa: E402
from openintern.export.commands import export_cmd  # noqa: E402
from openintern.mcp.commands import mcp_cmd  # noqa: E402

app.command("mcp")(mcp_cmd)
app.command("export")(export_cmd)
app.command("eval-model")(eval_model_cmd)
app.command("cost")(cost_command)
app.command("egress")(egress_command)
app.add_typer(bench_app, name="bench")

_COMMANDS = {"run", "resume", "sessions", "demo", "config", "runs", "reproduce", "serve", "mcp",
             "export", "eval-model", "cost", "egress", "bench"}


def _task_words(argv: list[str]) -> list[str]:
    """The positional arguments `run` would see in ``argv`` (option values skipped)."""
    import typer.main

    command = typer.main.get_command(app).commands["run"]  # type: ignore[attr-defined]
    with_value = {name for param in command.params if not getattr(param, "is_flag", True)
                  for name in param.opts if name.startswith("-")}
    words: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg.startswith("-"):
            skip = arg in with_value  # "--model x" (not "--model=x")
        else:
            words.append(arg)
    return words


def main() -> None:
    """Entry point: a bare task (or no argument) means `run`."""
    argv = sys.argv[1:]
    first = next((a for a in argv if not a.startswith("-")), None)
    wants_help = any(a in ("-h", "--help") for a in argv)
    if not argv or (first not in _COMMANDS and not (wants_help and first is None)):
        task = _task_words(argv)
        if len(task) == 1 and not wants_help:
            from openintern.command_typos import close_command

            guess = close_command(task[0], _COMMANDS)
            if guess is not None:
                print(f"intern: {task[0]!r} is not a command; did you mean `intern {guess}`?"
                      f"\n(To give it to the agent as a task: intern run {task[0]})",
                      file=sys.stderr)
                raise SystemExit(2)
        argv = ["run", *argv]
    app(args=argv, prog_name="intern")


if __name__ == "__main__":
    main()
