#!/usr/bin/env bash
# Sets up .venv with the test requirements and runs the whole test suite (arguments go to pytest).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh requirements-dev.txt
exec .venv/bin/python -m pytest "$@"
