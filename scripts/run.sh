#!/usr/bin/env bash
# Set up (first time) and run the product: the API with its embedded worker and the web site, on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
exec .venv/bin/python scripts/serve.py "$@"
