"""What the tests, the benchmarks and the reliability report share: synthetic clips, a fake model, a live API
process and its clients, load measurements, the shared data's location, and the reliability checks.
Nothing in the product imports this package."""
