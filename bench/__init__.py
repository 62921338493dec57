"""Benchmarks: speed measured and reported, never asserted in tests."""
