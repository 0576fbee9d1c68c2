"""Synthetic data made with an LLM, with provenance: generate (concurrent, resumable) →
validate against a JSON schema → deduplicate (exact and MinHash) → decontaminate against
evaluation sets → upsample; written with a data card and registered in the ledger."""
