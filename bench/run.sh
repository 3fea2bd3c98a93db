#!/usr/bin/env bash
# Runs every benchmark, each printing its figures beside its goals, then one table of them all.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh requirements-dev.txt
.venv/bin/python bench/summary.py
