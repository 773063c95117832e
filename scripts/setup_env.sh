#!/usr/bin/env bash
# Create .venv and install osvos-studio in editable mode at the locked versions (idempotent; run.sh and test.sh
# call it). Plain: the product (requirements.lock). --dev: also the tests' tools (requirements-dev.lock) and, with
# apt-get when they are missing, Debian's chromium (browser test), redis-server (Redis test: started by the test
# on a free port) and wrk (status benchmark).
# The locks come from pyproject.toml: `pip-compile --strip-extras --no-emit-index-url --no-emit-find-links
# [--extra dev] -o requirements[-dev].lock pyproject.toml`.
set -euo pipefail
cd "$(dirname "$0")/.."
lock=requirements.lock
if [ "${1:-}" = "--dev" ]; then
  lock=requirements-dev.lock
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=".venv/.installed-$lock"
wanted=$(cat "$lock" pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  pip=(.venv/bin/python -m pip install -q --disable-pip-version-check)
  "${pip[@]}" -r "$lock"
  "${pip[@]}" --no-deps -e .
  echo "$wanted" > "$stamp"
fi
if [ "$lock" = requirements-dev.lock ]; then
  missing=()
  for tool in chromium redis-server wrk; do
    command -v "$tool" > /dev/null || missing+=("$tool")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "${missing[*]} missing (the browser test needs chromium, the Redis test redis-server, the status" \
         "benchmark wrk): installing with apt-get" >&2
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then
      sudo=(sudo)
    fi
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" > /dev/null
  fi
fi
