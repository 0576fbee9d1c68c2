"""Direct Preference Optimisation with TRL's DPOTrainer (full fine-tuning or LoRA).

    python recipes/dpo.py --config dpo.json

Settings (JSON): model or init (scratch model), dataset (rows with ``prompt``,
``chosen``, ``rejected``: plain text or messages), output_dir, learning_rate, batch_size,
epochs or max_steps, beta, max_length, lora, seed. The loss, reward margins and accuracy
of chosen over rejected stream into the ledger; the model is saved to
``<output_dir>/final``.
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


def main(argv: list[str] | None = None) -> int:
    """Train; returns the exit code."""
    config = load_config(argv, {"learning_rate": 5e-6, "batch_size": 8, "beta": 0.1,
                                "max_length": 512})
    if not config.get("dataset") or not config.get("output_dir"):
        sys.exit("dpo needs dataset and output_dir")
    set_threads()
    from trl import DPOConfig, DPOTrainer

    args = common_arguments(config)
    train = load_dataset(config["dataset"], args["seed"], config.get("template"))
    model = resolve_model(config, list(train), args["seed"])
    dpo_args = DPOConfig(**args, beta=float(config["beta"]),
                         max_length=int(config["max_length"]))
    started = time.perf_counter()
    trainer = DPOTrainer(model=model, args=dpo_args, train_dataset=train,
                         peft_config=lora_config(config), callbacks=[make_callback()])
    trainer.train()
    finish(trainer, config, started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
