#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# cli_docs.sh — every example of README.md and docs/*.md runs as shown and prints what the document says
# (tools/docs_check.py; blocks marked <!-- docs-check: skip REASON --> are listed, not run).
set -u
G=${1:-build/genmix}
cd "$(dirname "$0")/.."
/usr/bin/python3 tools/docs_check.py "$(dirname "$(realpath "$G")")"
