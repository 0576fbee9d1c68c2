"""Post-training: tested TRL recipes (SFT, DPO, GRPO; LoRA or full) that run as tracked
jobs on any backend, and the host-side pieces that launch them."""
