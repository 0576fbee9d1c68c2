"""Supervised fine-tuning with TRL's SFTTrainer (full fine-tuning or LoRA).

    python recipes/sft.py --config sft.json [--set learning_rate=1e-4 ...]

Settings (JSON): model (Hub id or local folder) or init (a scratch model: vocab_size,
hidden_size, layers, heads), dataset (file or list of files: JSONL/JSON/CSV/Parquet with
conversational ``prompt``/``completion`` message lists, ``messages``, or ``text``),
output_dir, learning_rate, batch_size, epochs or max_steps, max_length, lora (true or
LoraConfig fields), seed, logging_steps, save_steps, bf16. Metrics (loss, learning rate,
grad norm, token accuracy, tokens/s) stream into the experiment ledger while it trains;
the model is saved to ``<output_dir>/final`` (and the untrained scratch model, when
``init`` is set, to ``<output_dir>/initial``).
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
    config = load_config(argv, {"learning_rate": 2e-4, "batch_size": 8, "max_length": 512})
    if not config.get("dataset") or not config.get("output_dir"):
        sys.exit("sft needs dataset and output_dir")
    set_threads()
    from trl import SFTConfig, SFTTrainer

    args = common_arguments(config)
    train = load_dataset(config["dataset"], args["seed"], config.get("template"))
    model = resolve_model(config, list(train), args["seed"])
    sft_args = SFTConfig(**args, max_length=int(config["max_length"]),
                         packing=bool(config.get("packing", False)))
    started = time.perf_counter()
    trainer = SFTTrainer(model=model, args=sft_args, train_dataset=train,
                         peft_config=lora_config(config), callbacks=[make_callback()])
    trainer.train()
    finish(trainer, config, started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
