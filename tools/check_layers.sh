#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check_layers.sh [ROOT [ALLOWLIST]] — the module layering check (rules in tools/check_layers.py, map in
# docs/design.md). Run by ctest as the unit test `check_layers`; tests/cli_layers.sh plants violations.
exec python3 "$(dirname "$0")/check_layers.py" "$@"
