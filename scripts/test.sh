#!/usr/bin/env bash
# Runs the whole suite once and ends with one plain summary line ("Tests: N passed, N failed, N skipped").
set -uo pipefail
mkdir -p .tools
results=.tools/vitest-results.json
rm -f "$results"
node node_modules/vitest/vitest.mjs run --reporter=default --reporter=json --outputFile.json="$results" "$@"
status=$?
node scripts/summary.ts "$results" "$status"
