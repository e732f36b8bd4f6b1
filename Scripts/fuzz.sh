#!/usr/bin/env bash
# Runs the libFuzzer targets over Mixture's parsers of untrusted input (Sources/MixtureFuzz).
#   Scripts/fuzz.sh TARGET SECONDS   one target for SECONDS (the issue's bar: 600 with no finding)
#   Scripts/fuzz.sh all SECONDS      every target in turn
#   Scripts/fuzz.sh --smoke          every target for a few seconds (CI: the targets build and run)
#   Scripts/fuzz.sh --list           the targets
# Builds with the address sanitizer and libFuzzer's coverage into .build-fuzz. The corpus a run grows stays in
# .build-fuzz/corpus/TARGET (seeded from Fuzz/seeds, Fuzz/regressions and the test fixtures);
# a crashing input is written to .build-fuzz/artifacts/. Reproduce one without the fuzzer:
#   swift run mixture-fuzz TARGET FILE
# and, once fixed, add it under Fuzz/regressions/TARGET/ so the tests replay it for good.
set -euo pipefail
cd "$(dirname "$0")/.."

targets="adapter-config config gguf jsonl merge-yaml safetensors tokenizer"
case "${1:-}" in
  --list) echo "$targets"; exit 0 ;;
  --smoke) selected=$targets; seconds=${FUZZ_SMOKE_SECONDS:-5} ;;
  all) selected=$targets; seconds=${2:?usage: Scripts/fuzz.sh all SECONDS} ;;
  "") echo "usage: Scripts/fuzz.sh TARGET SECONDS | all SECONDS | --smoke | --list (targets: $targets)" >&2; exit 2 ;;
  *) selected=$1; seconds=${2:?usage: Scripts/fuzz.sh TARGET SECONDS}
     [[ " $targets " == *" $1 "* ]] || { echo "unknown target '$1' (targets: $targets)" >&2; exit 2; } ;;
esac

# -sanitize=fuzzer would link libFuzzer's own main, which clashes with the one SwiftPM names for
# every executable; so the same instrumentation is asked for piece by piece, and the driver is
# linked without its main (FuzzEntry.swift calls LLVMFuzzerRunDriver).
runtime=$(dirname "$(command -v swiftc)")/../lib/clang
runtime=$(ls -d "$runtime"/*/lib/linux | head -1)/libclang_rt.fuzzer_no_main-x86_64.a
[ -f "$runtime" ] || { echo "libFuzzer runtime not found at $runtime" >&2; exit 1; }
echo "building the fuzz targets (release, address sanitizer, libFuzzer coverage) ..." >&2
swift build -c release --product mixture-fuzz --scratch-path .build-fuzz \
  -Xswiftc -sanitize=address -Xswiftc -sanitize-coverage=edge,trace-cmp,inline-8bit-counters,pc-table \
  -Xswiftc -DMIXTURE_LIBFUZZER -Xlinker "$runtime" -Xlinker -lstdc++ 2>&1 \
  | grep -E "error|Compiling mixture_fuzz|complete" >&2 || true
fuzzer=.build-fuzz/release/mixture-fuzz
[ -x "$fuzzer" ] || { echo "fuzz build failed" >&2; exit 1; }
# The plain build lists each target's seeds.
swift build --product mixture-fuzz >/dev/null
lister=$(swift build --product mixture-fuzz --show-bin-path)/mixture-fuzz

status=0
for target in $selected; do
  corpus=.build-fuzz/corpus/$target
  mkdir -p "$corpus" .build-fuzz/artifacts
  while IFS= read -r seed; do
    cp "$seed" "$corpus/seed-$(sha1sum "$seed" | cut -c1-16)"
  done < <("$lister" --list-seeds "$target" "$PWD")
  log=.build-fuzz/$target.log
  set +e
  MIXTURE_FUZZ_TARGET=$target SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 \
    LSAN_OPTIONS=suppressions=$PWD/Fuzz/lsan.supp:print_suppressions=0 "$fuzzer" "$corpus" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix=".build-fuzz/artifacts/$target-" >"$log" 2>&1
  rc=$?
  set -e
  runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
  cov=$(grep -E '^#[0-9]+' "$log" | tail -1 | sed -E 's/.*cov: ([0-9]+).*/\1/')
  ft=$(grep -E '^#[0-9]+' "$log" | tail -1 | sed -E 's/.*ft: ([0-9]+).*/\1/')
  files=$(ls "$corpus" | wc -l)
  if [ $rc -eq 0 ]; then
    echo "$target: ${runs:-?} runs in ${seconds} s, coverage ${cov:-?} edges, ${ft:-?} features, corpus ${files} inputs, no finding"
  else
    echo "$target: FINDING after ${runs:-?} runs (exit $rc); log: $log; input: $(ls -t .build-fuzz/artifacts/$target-* 2>/dev/null | head -1)"
    grep -E "ERROR|Fatal error|SUMMARY|==[0-9]+==" "$log" | head -5
    status=1
  fi
done
exit $status
