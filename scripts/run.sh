#!/usr/bin/env bash
# Sets up .venv and runs the dashboard with its embedded backend on http://localhost:8501.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh requirements.txt
exec .venv/bin/python -m streamlit run server.py "$@"
