"""Matching: standardize, block, compare, score, decide and cluster source records."""
