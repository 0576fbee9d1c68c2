"""Group Relative Policy Optimisation with TRL's GRPOTrainer (full fine-tuning or LoRA).

    python recipes/grpo.py --config grpo.json

Settings (JSON): model or init (scratch model), dataset (rows with a ``prompt``, plain
text or messages, plus any columns the reward needs, e.g. ``answer``), reward (a name
from rewards.py: mc_letter, exact_answer, format, constant; a list of them; or
``file.py:function``), output_dir, learning_rate, batch_size (prompts × generations per
step must divide by num_generations), num_generations, max_completion_length,
temperature, beta, max_steps, lora, seed. Reward mean/std, the share of groups with zero
reward spread, KL, entropy and grad norm stream into the ledger; the experiment's
reward-collapse alert watches reward_std.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # type: ignore[import-not-found]
    common_arguments,
    finish,
    load_config,
    load_dataset,
    lora_config,
    make_callback,
    resolve_model,
    set_threads,
)
from rewards import load_reward  # type: ignore[import-not-found]


def main(argv: list[str] | None = None) -> int:
    """Train; returns the exit code."""
    config = load_config(argv, {"learning_rate": 1e-5, "batch_size": 8, "num_generations": 4,
                                "max_completion_length": 16, "temperature": 1.0,
                                "beta": 0.0, "reward": "mc_letter", "logging_steps": 1})
    if not config.get("dataset") or not config.get("output_dir"):
        sys.exit("grpo needs dataset and output_dir")
    set_threads()
    from trl import GRPOConfig, GRPOTrainer

    args = common_arguments(config)
    train = load_dataset(config["dataset"], args["seed"], config.get("template"))
    model = resolve_model(config, list(train), args["seed"])
    names = config["reward"] if isinstance(config["reward"], list) else [config["reward"]]
    rewards = [load_reward(str(n)) for n in names]
    grpo_args = GRPOConfig(
        **args, num_generations=int(config["num_generations"]),
        max_completion_length=int(config["max_completion_length"]),
        temperature=float(config["temperature"]), beta=float(config["beta"]),
    )
    started = time.perf_counter()
    trainer = GRPOTrainer(model=model, reward_funcs=rewards, args=grpo_args,
                          train_dataset=train, peft_config=lora_config(config),
                          callbacks=[make_callback()])
    trainer.train()
    finish(trainer, config, started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
