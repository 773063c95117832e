"""The benchmark's configurations and its report (markdown table, J-vs-time plot); scripts/benchmark.py runs
the configurations and writes the report."""
