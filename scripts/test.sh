#!/usr/bin/env bash
# Set up and run the whole test suite: a virtual environment with the package and its test extras,
# Debian's chromium for the browser tests (installed when running as root), then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's chromium for the browser tests" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium is not installed: the browser tests will be skipped (apt-get install chromium)" >&2
  fi
fi

python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e ".[test]"
exec .venv/bin/python -m pytest -q "$@"
