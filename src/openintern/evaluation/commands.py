"""``intern eval-model``: evaluate a model on a benchmark from the command line.

The evaluation is an experiment of a session of its own ("eval-model …"), runs as a
sandboxed job on the chosen backend, and prints the result with its CI and conditions
(``intern runs show <id>`` shows them again later).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

ModelArg = Annotated[str, typer.Argument(help="Checkpoint folder, Hub id, or inspect model "
                                          "id (openai-api/NAME/MODEL, anthropic/...).")]


def eval_model_cmd(
    model: ModelArg,
    task: Annotated[str, typer.Option("--task", "-t", help="JSONL/CSV file (input, target, "
                                      "choices) or a benchmark (gpqa_diamond, healthbench, "
                                      "mmlu_pro, math, aime2024, gsm8k).")],
    kind: Annotated[str, typer.Option(help="Local task scoring: mc, exact or judged.")] = "mc",
    limit: Annotated[int | None, typer.Option(help="First N samples only.")] = None,
    split: Annotated[str, typer.Option(help="Split name recorded with the result.")] = "test",
    seed: Annotated[int, typer.Option(help="Seed (recorded).")] = 0,
    temperature: Annotated[float, typer.Option(help="0 = greedy.")] = 0.0,
    max_tokens: Annotated[int, typer.Option(help="Tokens per answer.")] = 16,
    template: Annotated[str | None, typer.Option(help="mc prompt with {question} {choices} "
                                                 "{letters} (default inspect's).")] = None,
    judge: Annotated[str | None, typer.Option(help="Grader model (judged tasks).")] = None,
    revision: Annotated[str | None, typer.Option(help="Hub revision to pin.")] = None,
    api_base: Annotated[str | None, typer.Option(help="Endpoint base URL.")] = None,
    train_data: Annotated[list[str] | None, typer.Option(
        "--train-data", help="Training file to check for contamination (repeatable).")] = None,
    threshold: Annotated[float, typer.Option(help="Contamination share that flags.")] = 0.01,
    backend: Annotated[str, typer.Option(help="local, ray or hf.")] = "local",
    flavor: Annotated[str | None, typer.Option(help="hf: hardware flavor, e.g. "
                                               "a10g-small.")] = None,
    workspace: Annotated[Path | None, typer.Option("--workspace", "-w", help="Workspace "
                                                   "(default: current directory).")] = None,
    sandbox: Annotated[str | None, typer.Option(help="bwrap (default) or none.")] = None,
    timeout_s: Annotated[float, typer.Option(help="Give up after this many seconds.")] = 3600,
) -> None:
    """Evaluate a model on a benchmark under recorded conditions (accuracy with a 95% CI,
    per-sample outputs kept, optional contamination check against training data)."""
    import asyncio

    from rich.console import Console

    from openintern.agent.session import open_store
    from openintern.compute.base import JobBackendError
    from openintern.compute.registry import make_backend
    from openintern.config import Settings
    from openintern.evaluation.conditions import Decoding
    from openintern.evaluation.runner import EvalRequest, EvaluationError, evaluate
    from openintern.research.ledger import Ledger
    from openintern.sandbox import make_sandbox
    from openintern.sandbox.base import SandboxError

    console = Console()
    err = Console(stderr=True)
    overrides: dict[str, object] = {}
    if workspace is not None:
        overrides["workspace"] = workspace
    if sandbox is not None:
        overrides["sandbox"] = sandbox
    if kind not in ("mc", "exact", "judged"):
        err.print(f"[bold red]error:[/bold red] --kind must be mc, exact or judged, not {kind}")
        raise typer.Exit(2)
    settings = Settings(**overrides)  # type: ignore[arg-type]
    ws = settings.workspace.resolve()
    store = open_store(settings)
    info = store.create_session(task=f"eval-model {model} on {task}", model=settings.model,
                                workspace=str(ws), headless=True, config={})
    req = EvalRequest(
        model=model, task=task, kind=kind, split=split, limit=limit,  # type: ignore[arg-type]
        seed=seed, decoding=Decoding(temperature=temperature, max_tokens=max_tokens,
                                     do_sample=temperature > 0),
        template=template, judge=judge, revision=revision, api_base=api_base,
        train_data=list(train_data or []),
        contamination_threshold=threshold, timeout_s=timeout_s)
    try:
        job_backend = make_backend(backend, settings, ws, make_sandbox(settings, ws))
        hardware: dict[str, Any] = {}
        if backend == "hf":
            from openintern.training.recipes import EVAL_REQUIREMENTS

            hardware = {"pip": list(EVAL_REQUIREMENTS), "flavor": flavor}
        with console.status(f"evaluating {model} on {task} ({backend} job)…"):
            outcome = asyncio.run(evaluate(Ledger(store), info.id, req, job_backend, ws,
                                           **hardware))
    except (EvaluationError, JobBackendError, SandboxError) as exc:
        err.print(f"[bold red]error:[/bold red] {exc}")
        raise typer.Exit(1) from None
    console.print(outcome.summary())
    console.print(f"[dim]recorded as experiment {outcome.experiment.id} (session {info.id}): "
                  f"intern runs show {outcome.experiment.id}[/dim]")
    if outcome.contamination is not None and outcome.contamination.flagged:
        raise typer.Exit(3)
