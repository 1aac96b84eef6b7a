"""Benchmarks against the raw libraries: `python -m bench [NAME ...] [--quick]`.

Each benchmark measures the real code path and a baseline (the library driven directly, or a
plain query) in the same run, prints human-readable lines and, last, one JSON object with its
figures and the ratio to the baseline. See bench/README.md.
"""
