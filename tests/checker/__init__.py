"""A Jepsen-style checker of Sluice's accounting under faults (the e2e test and bench/soak.py)."""
