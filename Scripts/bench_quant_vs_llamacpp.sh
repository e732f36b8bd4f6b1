#!/usr/bin/env bash
# Quantized GGUF speed: Mixture vs llama.cpp's llama-bench on the SAME GGUF files (the OLMoE-geometry
# checkpoint of ../shared/tools/llamacpp-anchor quantized by llama-quantize), 2 threads, prefill 128
# tokens and decode 64 tokens from an empty context, alternating ours and the peer per type. Prints
# medians, ratios, decode against the same run's bandwidth bound, and peak RSS against the file size.
#
# Prerequisites: the anchor (llama-bench, llama-quantize, WORKDIR/olmoe-geom-4l-{Q8_0,Q4_0,Q6_K,Q4_K_M}.gguf):
#   PY=/tmp/mixture-refenv/bin/python ../shared/tools/llamacpp-anchor/perf_anchor.sh /tmp/perfmodels
# Usage: Scripts/bench_quant_vs_llamacpp.sh [WORKDIR=/tmp/perfmodels] [REPS=5] [TYPES="Q8_0 Q6_K Q4_K_M Q4_0"]
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-/tmp/perfmodels}
REPS=${2:-5}
TYPES=${3:-"Q8_0 Q6_K Q4_K_M Q4_0"}
THREADS=${THREADS:-2}
BENCH=$W/build/bin/llama-bench
[ -x "$BENCH" ] || { echo "error: $BENCH not found: run the llama.cpp anchor first (see the header of this script)" >&2; exit 1; }
[ "${SKIP_BUILD:-0}" = 1 ] || swift build -c release --product mixture >/dev/null
M=.build/release/mixture
out=$(mktemp -d)
for t in $TYPES; do
  f=$W/olmoe-geom-4l-$t.gguf
  [ -f "$f" ] || { echo "error: $f is missing (llama-quantize it from the BF16 GGUF)" >&2; exit 1; }
  $M bench --model "$f" --threads "$THREADS" --repetitions "$REPS" --json > "$out/ours-$t.json" 2>/dev/null
  "$BENCH" -m "$f" -t "$THREADS" -p 128 -n 64 -r "$REPS" -o json > "$out/peer-$t.json" 2>/dev/null
  stat -c %s "$f" > "$out/size-$t"
done
python3 - "$out" $TYPES <<'PY'
import json, sys, statistics
d, types = sys.argv[1], sys.argv[2:]
print(f"{'type':7} {'test':6} {'mixture':>9} {'llama.cpp':>10} {'ratio':>6}")
for t in types:
    ours = json.load(open(f"{d}/ours-{t}.json"))
    peer = json.load(open(f"{d}/peer-{t}.json"))
    size = int(open(f"{d}/size-{t}").read())
    def peer_median(kind):
        for r in peer:
            if (kind == "pp" and r["n_prompt"] > 0 and r["n_gen"] == 0) or (kind == "tg" and r["n_gen"] > 0 and r["n_prompt"] == 0):
                return statistics.median(r["samples_ts"])
    for kind, key in [("pp128", "prefill_median"), ("tg64", "decode_median")]:
        p = peer_median(kind[:2])
        print(f"{t:7} {kind:6} {ours[key]:9.1f} {p:10.1f} {ours[key] / p:6.2f}")
    print(f"{t:7} decode at {ours['decode_fraction_of_bound']*100:.1f}% of the bound ({ours['bandwidth_bytes_per_second']/1e9:.1f} GB/s same run, "
          f"{ours['bytes_read_per_decoded_token']/1e6:.0f} MB/token, bound {ours['decode_bound_tokens_per_second']:.1f} tok/s); "
          f"peak RSS {ours['peak_rss_bytes']/1e6:.0f} MB = {ours['peak_rss_bytes']/size:.2f} x file ({size/1e6:.0f} MB)")
PY
rm -rf "$out"
