#!/usr/bin/env bash
# Installs what the tests need (Python packages in .venv; nginx's RTMP module from Debian when
# run as root) and runs the whole test suite (arguments go to pytest).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/system-packages.sh
source scripts/setup.sh requirements-dev.txt
exec .venv/bin/python -m pytest "$@"
