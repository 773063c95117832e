"""``python -m devkit.fake_api [--segment-delay S] ARGS``: ``python -m api_server ARGS`` (the same command: HTTP,
workers, signals, settings) with devkit's fake model, which loads at once; each segmented frame takes ``S``
seconds, so a test can catch a job while it runs. For tests of processes, queues and machines, not of the model."""
from __future__ import annotations

import argparse
import sys

from api_server.__main__ import main as api_main
from devkit.fake_model import FakeModel


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devkit.fake_api", add_help=False)
    parser.add_argument("--segment-delay", type=float, default=0.0)
    own, rest = parser.parse_known_args(argv)
    return api_main(rest, model_factory=lambda: FakeModel(segment_delay=own.segment_delay))


if __name__ == "__main__":
    sys.exit(main())
