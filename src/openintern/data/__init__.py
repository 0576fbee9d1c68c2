"""Datasets: local audit (DuckDB), Hugging Face Hub and dataset viewer clients."""
