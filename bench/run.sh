#!/usr/bin/env bash
# Runs every benchmark; each prints its figures beside its goal.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh requirements-dev.txt
.venv/bin/python bench/bench_store.py
.venv/bin/python bench/bench_scheduler.py
.venv/bin/python bench/bench_streaming.py
.venv/bin/python bench/bench_monitoring.py
.venv/bin/python bench/bench_analytics.py
.venv/bin/python bench/bench_pages.py
