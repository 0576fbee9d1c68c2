"""The recipe scripts (SFT, DPO, GRPO, evaluation) and how they reach a workspace.

They run as ordinary jobs, so they are copied into the workspace (``recipes/``) where
every backend ships the working directory from; the copy is refreshed when the package's
version differs, and a recipe the agent edited is left alone (its own copy wins).
"""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

#: What a remote job (HF Jobs' python image) installs to run the recipes.
TRAIN_REQUIREMENTS = ("torch", "transformers>=5.24,<6", "trl>=1.16,<2", "peft>=0.21,<1",
                      "accelerate>=1.15,<2", "datasets>=5.2,<6", "tokenizers>=0.23,<1")
EVAL_REQUIREMENTS = (*TRAIN_REQUIREMENTS, "inspect-ai>=0.3.285,<0.4", "inspect-evals>=0.26,<1")
RECIPE_FILES = ("common.py", "sft.py", "dpo.py", "grpo.py", "rewards.py", "evaluate.py")
RECIPES_DIR = "recipes"
_STAMP = ".openintern-recipes"


def recipe_source(name: str) -> str:
    """The text of one shipped recipe file."""
    return (resources.files(__package__) / name).read_text("utf-8")


def install_recipes(workspace: Path) -> Path:
    """Copy the recipes into ``<workspace>/recipes`` (idempotent); returns that folder.
    A file whose content differs from what was installed last time was edited by someone:
    it is kept."""
    target = workspace / RECIPES_DIR
    target.mkdir(parents=True, exist_ok=True)
    stamp = target / _STAMP
    installed: dict[str, str] = {}
    if stamp.exists():
        for line in stamp.read_text().splitlines():
            name, _, digest = line.partition(" ")
            installed[name] = digest
    lines = []
    for name in RECIPE_FILES:
        text = recipe_source(name)
        digest = hashlib.sha256(text.encode()).hexdigest()
        path = target / name
        if path.exists():
            current = hashlib.sha256(path.read_bytes()).hexdigest()
            if current != installed.get(name) and current != digest:
                lines.append(f"{name} {installed.get(name, '')}")
                continue  # edited in the workspace: theirs
        path.write_text(text, encoding="utf-8")
        lines.append(f"{name} {digest}")
    stamp.write_text("\n".join(lines) + "\n")
    return target
