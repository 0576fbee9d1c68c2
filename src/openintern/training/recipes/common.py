"""Shared pieces of the training recipes: config, metrics callback, data, scratch models.

The recipes are ordinary scripts (``python recipes/sft.py --config cfg.json``) copied into
the workspace, so they travel with the code to any backend (local sandbox, Ray, HF Jobs).
They need only torch, transformers, trl, datasets (and peft for LoRA, tokenizers for a
scratch model); ``openintern.track`` is used when importable, otherwise metric lines are
printed in the same JSON form, which the runner reads back from the job's log.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

# Metric names a Trainer logs that are not worth a series.
_SKIP = {"total_flos", "train_runtime", "train_samples_per_second", "train_steps_per_second",
         "epoch_end"}


def log_metrics(step: int, **metrics: float) -> None:
    """Report metrics through ``openintern.track`` (or as a JSON line on stdout)."""
    try:
        from openintern.track import log
    except ImportError:  # not installed where the job runs: the log line is the protocol
        print(json.dumps({"step": step, **metrics}), flush=True)
        return
    if os.environ.get("OPENINTERN_METRICS"):
        log(step=step, **metrics)
    else:
        print(json.dumps({"step": step, **metrics}), flush=True)


def load_config(argv: list[str] | None = None, defaults: dict[str, Any] | None = None
                ) -> dict[str, Any]:
    """The recipe's configuration: ``--config FILE`` (JSON) then ``--set key=value``
    overrides (values parsed as JSON when they parse, else kept as strings)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", type=Path, help="JSON file with the recipe's settings")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one setting (repeatable)")
    args = parser.parse_args(argv)
    config: dict[str, Any] = dict(defaults or {})
    if args.config is not None:
        try:
            config.update(json.loads(args.config.read_text()))
        except (OSError, json.JSONDecodeError) as exc:
            parser.error(f"cannot read --config {args.config}: {exc}")
    for item in args.set:
        key, sep, raw = item.partition("=")
        if not sep:
            parser.error(f"--set needs KEY=VALUE, got {item!r}")
        try:
            config[key] = json.loads(raw)
        except json.JSONDecodeError:
            config[key] = raw
    return config


def make_callback() -> Any:
    """A ``TrainerCallback`` streaming every numeric log entry (loss, learning rate, grad
    norm, token accuracy, reward mean/std, ...) plus tokens/s into the metric protocol."""
    from transformers import TrainerCallback

    class TrackCallback(TrainerCallback):  # type: ignore[misc]
        """Forwards Trainer logs to the experiment ledger as they happen."""

        def __init__(self) -> None:
            self._last: tuple[float, float] | None = None  # (time, num_tokens)

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self._last = (time.perf_counter(), 0.0)

        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None,
                   **kwargs: Any) -> None:
            if not logs or not state.is_world_process_zero:
                return
            metrics = {k: float(v) for k, v in logs.items()
                       if isinstance(v, int | float) and not isinstance(v, bool)
                       and k not in _SKIP}
            tokens = metrics.get("num_tokens")
            now = time.perf_counter()
            if tokens is not None and self._last is not None and now > self._last[0]:
                metrics["tokens_per_s"] = (tokens - self._last[1]) / (now - self._last[0])
                self._last = (now, tokens)
            if metrics:
                log_metrics(int(state.global_step), **metrics)

        def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            path = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            print(f"openintern: checkpoint saved: {path}", flush=True)

    return TrackCallback()


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a JSONL, JSON (list), CSV or Parquet file."""
    p = Path(path)
    if not p.exists():
        raise SystemExit(f"dataset {p} does not exist")
    suffix = p.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return list(pq.read_table(p).to_pylist())
    if suffix == ".csv":
        import csv

        with p.open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    text = p.read_text(encoding="utf-8")
    if suffix == ".json":
        data = json.loads(text)
        return list(data if isinstance(data, list) else data.get("rows", []))
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def load_dataset(paths: str | list[str], seed: int, template: str | None = None) -> Any:
    """A shuffled ``datasets.Dataset`` from one or more local files, or Hub datasets
    named ``hf://datasets/<id>[:split]`` (concatenated), rendered with ``template``
    (see :func:`render_rows`)."""
    from datasets import Dataset

    rows: list[dict[str, Any]] = []
    for path in [paths] if isinstance(paths, str) else paths:
        if str(path).startswith("hf://datasets/"):
            # A Hub dataset (remote backends: data does not ship with the code).
            from datasets import load_dataset as hub_dataset

            name, _, split = str(path).removeprefix("hf://datasets/").partition(":")
            rows += list(hub_dataset(name, split=split or "train"))
            continue
        rows += read_rows(path)
    if not rows:
        raise SystemExit("the training data is empty")
    rows = render_rows(rows, template)
    random.Random(seed).shuffle(rows)
    return Dataset.from_list(rows)


def _texts(value: Any) -> list[str]:
    """Every string inside a row value (message lists, nested dicts, plain text)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    return []


#: The multiple-choice prompt (inspect_ai's single-answer wording). The evaluation recipe
#: asks with it, and ``"template": "mc"`` renders training rows with it, so a model is
#: trained on exactly the prompt it is tested with.
MC_TEMPLATE = (
    "Answer the following multiple choice question. The entire content of your response "
    "should be of the following format: 'ANSWER: $LETTER' (without quotes) where LETTER is "
    "one of {letters}.\n\n{question}\n\n{choices}"
)
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def mc_prompt(question: str, choices: list[str], template: str = MC_TEMPLATE) -> str:
    """A multiple-choice question as the model sees it."""
    letters = ",".join(LETTERS[: len(choices)])
    lettered = "\n".join(f"{LETTERS[i]}) {c}" for i, c in enumerate(choices))
    return template.replace("{letters}", letters).replace("{question}", question).replace(
        "{choices}", lettered)


def render_rows(rows: list[dict[str, Any]], template: str | None) -> list[dict[str, Any]]:
    """Rows as conversational prompt/completion pairs. ``"mc"`` (or a custom prompt with
    {question} and {choices}, optionally {letters}, as given to the evaluation): rows with
    question, choices and answer (a letter) become the multiple-choice prompt and
    ``ANSWER: X``; None leaves the rows as they are (prompt/completion, messages, text)."""
    if not template:
        return rows
    if template == "mc":
        template = MC_TEMPLATE
    if "{question}" not in template or "{choices}" not in template:
        raise SystemExit(f"template {template!r} must be 'mc' or contain {{question}} and "
                         "{choices}")
    out = []
    for row in rows:
        question = str(row.get("question", row.get("input", "")))
        choices = [str(c) for c in row.get("choices", [])]
        answer = str(row.get("answer", row.get("target", "")))
        out.append({"prompt": [{"role": "user",
                                "content": mc_prompt(question, choices, template)}],
                    "completion": [{"role": "assistant", "content": f"ANSWER: {answer}"}],
                    "answer": answer})
    return out


CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>' + message['content'] + '<|end|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"
)


def build_scratch_model(init: dict[str, Any], rows: list[dict[str, Any]], out: Path,
                        seed: int) -> Path:
    """A randomly initialised Llama-style causal LM and a byte-level BPE tokenizer trained
    on the rows' text, saved to ``out`` (no download). ``init`` keys: vocab_size,
    hidden_size, layers, heads, intermediate_size, max_position_embeddings."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    torch.manual_seed(seed)
    specials = ["<|pad|>", "<|end|>", "<|user|>", "<|assistant|>", "<|system|>"]
    tok = Tokenizer(models.BPE())
    # Digits stay single tokens: arithmetic and comparisons become learnable.
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=int(init.get("vocab_size", 1024)), special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    corpus = [t for row in rows for t in _texts(row)]
    tok.train_from_iterator(corpus, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<|pad|>",
                                   eos_token="<|end|>", bos_token=None, unk_token=None)
    fast.chat_template = CHAT_TEMPLATE
    hidden = int(init.get("hidden_size", 128))
    config = LlamaConfig(
        vocab_size=len(fast), hidden_size=hidden,
        intermediate_size=int(init.get("intermediate_size", hidden * 4)),
        num_hidden_layers=int(init.get("layers", 2)),
        num_attention_heads=int(init.get("heads", 4)),
        num_key_value_heads=int(init.get("heads", 4)),
        max_position_embeddings=int(init.get("max_position_embeddings", 512)),
        tie_word_embeddings=True, pad_token_id=fast.pad_token_id,
        eos_token_id=fast.eos_token_id, bos_token_id=None,
    )
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = fast.pad_token_id
    model.generation_config.eos_token_id = fast.eos_token_id
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    fast.save_pretrained(out)
    params = sum(p.numel() for p in model.parameters())
    print(f"openintern: built a scratch model ({params / 1e6:.2f} M parameters) in {out}",
          flush=True)
    return out


def resolve_model(config: dict[str, Any], train_rows: list[dict[str, Any]], seed: int) -> str:
    """The model to train: ``config["model"]`` (a local folder or Hub id), or a scratch
    model built from ``config["init"]`` and saved as ``<output_dir>/initial`` (which is
    also the untrained baseline to evaluate)."""
    if config.get("init"):
        out = Path(config["output_dir"]) / "initial"
        return str(build_scratch_model(dict(config["init"]), train_rows, out, seed))
    model = config.get("model")
    if not model:
        raise SystemExit("set model (a Hub id or a local folder) or init (a scratch model)")
    return str(model)


def lora_config(config: dict[str, Any]) -> Any:
    """A peft ``LoraConfig`` when ``config["lora"]`` is set (dict of LoraConfig fields;
    ``true`` for r=16 on every linear layer), else None (full fine-tuning)."""
    spec = config.get("lora")
    if not spec:
        return None
    from peft import LoraConfig

    fields = {"r": 16, "lora_alpha": 32, "lora_dropout": 0.0, "target_modules": "all-linear",
              "task_type": "CAUSAL_LM"}
    if isinstance(spec, dict):
        fields.update(spec)
    return LoraConfig(**fields)


def common_arguments(config: dict[str, Any]) -> dict[str, Any]:
    """TrainingArguments fields shared by every recipe (logging into the ledger, no
    reporting to outside services, never pushing: publishing is a separate, approved
    step)."""
    seed = int(config.get("seed", int(os.environ.get("OPENINTERN_SEED", "0") or 0)))
    args = {
        "output_dir": str(config["output_dir"]),
        "seed": seed,
        "data_seed": seed,
        "learning_rate": float(config.get("learning_rate", 5e-5)),
        "per_device_train_batch_size": int(config.get("batch_size", 8)),
        "gradient_accumulation_steps": int(config.get("gradient_accumulation_steps", 1)),
        "num_train_epochs": float(config.get("epochs", 1)),
        "max_steps": int(config.get("max_steps", -1)),
        "warmup_steps": int(config.get("warmup_steps", 0)),
        "lr_scheduler_type": str(config.get("lr_scheduler_type", "linear")),
        "weight_decay": float(config.get("weight_decay", 0.0)),
        "max_grad_norm": float(config.get("max_grad_norm", 1.0)),
        "logging_steps": int(config.get("logging_steps", 10)),
        "save_strategy": "steps" if config.get("save_steps") else "no",
        "report_to": "none",
        "push_to_hub": False,
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
        "bf16": bool(config.get("bf16", False)),
        "use_cpu": bool(config.get("use_cpu", False)),
    }
    if config.get("save_steps"):
        args["save_steps"] = int(config["save_steps"])
        args["save_total_limit"] = int(config.get("save_total_limit", 2))
    return args


def finish(trainer: Any, config: dict[str, Any], started: float) -> Path:
    """Save the final model and tokenizer to ``<output_dir>/final`` (a LoRA run: the
    adapter to ``<output_dir>/adapter`` and the merged model to ``final``, so evaluation
    loads it like any checkpoint); log the run time."""
    out = Path(config["output_dir"])
    final = out / "final"
    model = trainer.model
    if hasattr(model, "merge_and_unload"):  # a peft model
        model.save_pretrained(str(out / "adapter"))
        model = model.merge_and_unload()
    model.save_pretrained(str(final))
    processing = getattr(trainer, "processing_class", None)
    if processing is not None:
        processing.save_pretrained(str(final))
    seconds = time.perf_counter() - started
    step = int(trainer.state.global_step)
    log_metrics(step, train_seconds=seconds)
    print(f"openintern: final model saved: {final} ({step} steps, {seconds:.1f} s)",
          flush=True)
    return final


def set_threads() -> None:
    """Quiet progress bars (the log is for metrics), and use the cores this job was given
    (``OPENINTERN_TORCH_THREADS``; torch otherwise oversubscribes shared CPUs)."""
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:
        pass
    threads = os.environ.get("OPENINTERN_TORCH_THREADS")
    if threads:
        import torch

        torch.set_num_threads(max(1, int(threads)))


def finite(value: float) -> bool:
    """Whether ``value`` is a finite number."""
    return math.isfinite(value)


if __name__ == "__main__":  # pragma: no cover - a library for the recipes
    sys.exit("common.py is imported by the recipes (sft.py, dpo.py, grpo.py)")
