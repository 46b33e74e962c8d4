"""The realistic multi-source customer benchmark (``benchmarks/bench_realistic.py``).

Its own generator, sharing nothing with ``mdm.demo``: ``vocab`` (names, companies, places),
``world`` (the true organisations and people, with the hard cases), ``systems`` (which records
each source system holds and how it writes them), ``nights`` (nightly deltas), ``project``
(the files, ``mdm.toml`` and the truth), ``hard_cases`` (how often each occurs), ``records``
(the live records as mdm reads them), ``scoring``, ``mdm_job``, ``splink_job`` and ``errors``
(mdm's wrong pairs by kind).
"""
