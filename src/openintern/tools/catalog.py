"""The tool set offered to the model."""

from __future__ import annotations

from typing import Any

from openintern.tools.base import Tool, ToolRegistry
from openintern.tools.files import EditFile, ReadFile, WriteFile
from openintern.tools.help import Help
from openintern.tools.plan import Note, Plan
from openintern.tools.shell import Shell


def core_tools() -> list[Tool[Any]]:
    """Files, shell, plan and notes: what every session has."""
    return [ReadFile(), WriteFile(), EditFile(), Shell(), Plan(), Note()]


def research_tools() -> list[Tool[Any]]:
    """Read-only tools over the literature, datasets, the Hub, docs, GitHub and the web."""
    from openintern.tools.datasets import Datasets
    from openintern.tools.docs import Docs
    from openintern.tools.github import GitHub
    from openintern.tools.hub import Hub
    from openintern.tools.papers import Papers
    from openintern.tools.research_agent import Research
    from openintern.tools.web import Web

    return [Papers(), Datasets(), Hub(), Docs(), GitHub(), Web(), Research()]


def compute_tools() -> list[Tool[Any]]:
    """Jobs on local/Ray/HF backends and the experiment ledger."""
    from openintern.tools.experiment import Experiment, Sweep
    from openintern.tools.jobs import Jobs

    return [Jobs(), Experiment(), Sweep()]


def posttraining_tools() -> list[Tool[Any]]:
    """LLM post-training: TRL recipes, benchmark evaluation, synthetic data, publishing."""
    from openintern.tools.evaluate import Evaluate
    from openintern.tools.publish import PushToHub
    from openintern.tools.synthesize import Synthesize
    from openintern.tools.train import Train

    return [Train(), Evaluate(), Synthesize(), PushToHub()]


def default_registry() -> ToolRegistry:
    """Every tool of the main agent, and ``help`` for their full guides."""
    registry = ToolRegistry([*core_tools(), *research_tools(), *compute_tools(),
                             *posttraining_tools()])
    registry.add(Help(registry))
    return registry
