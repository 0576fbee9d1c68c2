"""GPU benchmark: the SFT recipe on a ~100 M-parameter randomly initialised Llama in bf16
(tokens/s and model FLOPs utilisation), then the evaluation recipe on the trained model
on the GPU (samples/s).

Run: ``python benchmarks/gpu_sft.py [--steps 60] [--batch 16] [--peak-tflops N]``. Needs
torch with CUDA, transformers, trl and inspect_ai (no internet: the tokenizer is trained
locally, the data generated). Without a CUDA device it says so and exits.

MFU = 6 × parameters × tokens/s / peak bf16 FLOP/s (the standard dense-transformer
estimate; attention FLOPs are left out, so it slightly understates). The peak is looked
up from the device name (H100/H200 989, A100 312, L4 121, A10G 125 dense bf16 TFLOP/s)
or given with --peak-tflops.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

_PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "L4": 121.0,
                "A10G": 125.0, "T4": 65.0}
MODEL = {"vocab_size": 8192, "hidden_size": 768, "layers": 12, "heads": 12,
         "intermediate_size": 2048, "max_position_embeddings": 1024}


def _text(rng: random.Random) -> dict[str, object]:
    """A long instruction/answer pair (a few hundred tokens) from a small grammar."""
    words = ["model", "data", "train", "loss", "token", "layer", "vector", "batch", "step",
             "gradient", "weight", "sample", "value", "result", "number", "answer"]
    prompt = " ".join(rng.choice(words) for _ in range(rng.randint(80, 160)))
    answer = " ".join(sorted(prompt.split())[: rng.randint(40, 120)])
    return {"prompt": [{"role": "user", "content": "Sort these words: " + prompt}],
            "completion": [{"role": "assistant", "content": answer}]}


def _peak(name: str, given: float | None) -> float | None:
    if given:
        return given
    return next((v for k, v in _PEAK_TFLOPS.items() if k in name.upper()), None)


def main() -> int:
    """Run the benchmark; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--eval-samples", type=int, default=200)
    parser.add_argument("--peak-tflops", type=float, default=None)
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available():
        print("gpu_sft: no CUDA device here (torch.cuda.is_available() is False); this "
              "benchmark needs a GPU. Nothing was measured.")
        return 0
    device = torch.cuda.get_device_name(0)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from openintern.demo.llm_data import eval_rows, write_jsonl
    from openintern.demo.llm_script import TEMPLATE
    from openintern.training.recipes import install_recipes

    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp)
        install_recipes(ws)
        write_jsonl(ws / "text.jsonl", [_text(rng) for _ in range(args.steps * args.batch)])
        config = {"init": MODEL, "dataset": ["text.jsonl"], "output_dir": "out", "bf16": True,
                  "learning_rate": 3e-4, "batch_size": args.batch, "max_steps": args.steps,
                  "logging_steps": 5, "warmup_steps": 5, "max_length": 1024}
        (ws / "sft.json").write_text(json.dumps(config))
        done = subprocess.run([sys.executable, "recipes/sft.py", "--config", "sft.json"],
                              cwd=ws, capture_output=True, text=True, check=False,
                              env={**os.environ, "OPENINTERN_METRICS": ""})
        if done.returncode != 0:
            print(done.stdout[-3000:], done.stderr[-3000:])
            return 1
        records = [json.loads(x) for x in done.stdout.splitlines() if x.startswith('{"step"')]
        from transformers import AutoModelForCausalLM

        params = sum(p.numel() for p in AutoModelForCausalLM.from_pretrained(
            ws / "out" / "final").parameters())
        steady = [r["tokens_per_s"] for r in records if "tokens_per_s" in r][1:]
        tokens_s = sum(steady) / max(1, len(steady))
        peak = _peak(device, args.peak_tflops)
        mfu = 6 * params * tokens_s / (peak * 1e12) if peak else None
        write_jsonl(ws / "eval.jsonl", eval_rows(args.eval_samples))
        spec = {"model": f"hf/{ws / 'out' / 'final'}", "task": str(ws / "eval.jsonl"),
                "kind": "mc", "template": TEMPLATE, "out_dir": str(ws / "eval-out"),
                "decoding": {"temperature": 0.0, "max_tokens": 8, "do_sample": False},
                "max_samples": 64}
        (ws / "eval.json").write_text(json.dumps(spec))
        ev = subprocess.run([sys.executable, "recipes/evaluate.py", "--spec", "eval.json"],
                            cwd=ws, capture_output=True, text=True, check=False,
                            env={**os.environ, "OPENINTERN_METRICS": ""})
        result = json.loads((ws / "eval-out" / "result.json").read_text()) if (
            ws / "eval-out" / "result.json").exists() else {}
    print(f"device: {device}")
    print(f"model: {params / 1e6:.1f} M parameters (Llama, bf16), {args.steps} steps × "
          f"batch {args.batch}")
    print(f"SFT tokens/s (steady): {tokens_s:,.0f}")
    print(f"MFU: {mfu:.1%} (peak {peak:g} TFLOP/s)" if mfu is not None else
          "MFU: unknown peak for this device (pass --peak-tflops)")
    if ev.returncode == 0 and result:
        print(f"evaluation: {result['samples_per_s']:.1f} samples/s on {result['n']} "
              f"samples (accuracy {result['accuracy']:.3f}; the text-trained model is not "
              "taught the task, so this measures speed)")
    else:
        print(f"evaluation failed: {ev.stdout[-1500:]} {ev.stderr[-1500:]}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
