"""The machinery of scripts/reliability_report.py and tests/reliability: live API and site processes, the
bad-input matrix, load, crash and hardening checks, and the markdown report."""
