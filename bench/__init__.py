"""Benchmarks (run as modules, e.g. `python -m bench.faq_bench`)."""
