"""Benchmarks of mdm's matching against Febrl, synthetic people at scale and Splink 5.

Each ``bench_*.py`` script is runnable alone and prints one JSON line per measured
configuration on stdout (progress goes to stderr). ``harness`` holds the metrics and the
isolated runner; ``people`` the Febrl loader and the synthetic person generator.
"""
