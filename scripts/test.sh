#!/usr/bin/env bash
# Set up (first time) and run the default test suite: osvos, API over HTTP, site, reliability, and the browser
# end-to-end test (the set-up installs the test tools and Debian's chromium when they are missing).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh --dev
export TF_CPP_MIN_LOG_LEVEL=2
set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "error: pytest collected no tests" >&2
  exit 1
fi
exit "$status"
