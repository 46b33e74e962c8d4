"""Seeded demo data with known truth: ``mdm demo``, the tests and the benchmarks use it."""

from mdm.demo.generate import DemoData, DemoTruth, generate_demo, generate_tables
from mdm.demo.project import project_toml

__all__ = ["DemoData", "DemoTruth", "generate_demo", "generate_tables", "project_toml"]
