"""Reliability tests. A package, so that its conftest is not imported as the bare module `conftest`
that other test folders import from."""
