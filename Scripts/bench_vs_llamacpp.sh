#!/usr/bin/env bash
# Side-by-side speed: Mixture vs llama.cpp's llama-bench on a random-weight checkpoint with OLMoE-1B-7B's
# geometry (4 layers), 2 threads, prefill 128 tokens (last position's logits) and decode 64 tokens from an
# empty context, in one run, with the read bandwidth measured in the same run. Prints medians and ratios.
#
# Prerequisites (once, ~25 min on 2 cores): the llama.cpp anchor, which builds llama-bench and writes
# WORKDIR/olmoe-geom-4l (BF16 safetensors) and WORKDIR/olmoe-geom-4l-{BF16,F16}.gguf:
#   ../shared/tools/refenv.sh && PY=/tmp/mixture-refenv/bin/python ../shared/tools/llamacpp-anchor/perf_anchor.sh /tmp/perfmodels
# Usage: Scripts/bench_vs_llamacpp.sh [WORKDIR=/tmp/perfmodels] [REPS=5]
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-/tmp/perfmodels}
REPS=${2:-5}
THREADS=${THREADS:-2}
BENCH=$W/build/bin/llama-bench
[ -x "$BENCH" ] || { echo "error: $BENCH not found: run the llama.cpp anchor first (see the header of this script)" >&2; exit 1; }
[ -f "$W/olmoe-geom-4l/config.json" ] || { echo "error: $W/olmoe-geom-4l is missing: run the llama.cpp anchor first" >&2; exit 1; }
[ "${SKIP_BUILD:-0}" = 1 ] || swift build -c release --product mixture >/dev/null
M=.build/release/mixture
# Same geometry in F16 for our side (llama.cpp's F16 GGUF is a conversion of the same BF16 weights; speed depends only on geometry).
[ -f "$W/olmoe-geom-4l-f16/config.json" ] || $M synth "$W/olmoe-geom-4l-f16" --geometry olmoe --layers 4 --dtype f16 >/dev/null

idle_pct() { read -r _ u n s i w q sq st _ < /proc/stat; t1=$((u+n+s+i+w+q+sq+st)); i1=$((i+w)); sleep 2
             read -r _ u n s i w q sq st _ < /proc/stat; t2=$((u+n+s+i+w+q+sq+st)); i2=$((i+w)); echo $(( 100*(i2-i1)/(t2-t1) )); }
wait_idle() { [ "${IDLE_WAIT:-1}" = 0 ] && return 0; local waited=0; while [ "$(idle_pct)" -lt 90 ] && [ $waited -lt 120 ]; do echo "machine busy: waiting" >&2; sleep 8; waited=$((waited+10)); done; }

out=$(mktemp -d)
for dtype in BF16 F16; do
  model=$W/olmoe-geom-4l; [ $dtype = F16 ] && model=$W/olmoe-geom-4l-f16
  wait_idle
  $M bench --model "$model" --threads "$THREADS" --repetitions "$REPS" --json > "$out/ours-$dtype.json" 2>/dev/null
  wait_idle
  $M bench --model "$model" --threads "$THREADS" --repetitions "$REPS" --json --huge-pages > "$out/ours-huge-$dtype.json" 2>/dev/null
  wait_idle
  "$BENCH" -m "$W/olmoe-geom-4l-$dtype.gguf" -t "$THREADS" -p 128 -n 64 -r "$REPS" -o json > "$out/peer-$dtype.json" 2>/dev/null
done
python3 - "$out" <<'PY'
import json, sys, statistics
d = sys.argv[1]
print(f"{'dtype':6} {'test':6} {'mixture (mmap)':>15} {'mixture (--huge-pages)':>23} {'llama.cpp':>10} {'ratio mmap':>11} {'ratio huge':>11}")
for dtype in ["BF16", "F16"]:
    ours = json.load(open(f"{d}/ours-{dtype}.json"))
    huge = json.load(open(f"{d}/ours-huge-{dtype}.json"))
    peer = json.load(open(f"{d}/peer-{dtype}.json"))
    def peer_median(kind):
        for r in peer:
            if (kind == "pp" and r["n_prompt"] > 0 and r["n_gen"] == 0) or (kind == "tg" and r["n_gen"] > 0 and r["n_prompt"] == 0):
                return statistics.median(r["samples_ts"])
    for kind, key in [("pp128", "prefill_median"), ("tg64", "decode_median")]:
        p = peer_median(kind[:2])
        print(f"{dtype:6} {kind:6} {ours[key]:15.1f} {huge[key]:23.1f} {p:10.1f} {ours[key] / p:11.2f} {huge[key] / p:11.2f}")
    for name, r in [("mmap", ours), ("huge pages", huge)]:
        print(f"{dtype:6} {name}: decode at {r['decode_fraction_of_bound']*100:.1f}% of the bandwidth bound "
              f"({r['bandwidth_bytes_per_second']/1e9:.1f} GB/s measured in the same run, {r['bytes_read_per_decoded_token']/1e6:.0f} MB/token, "
              f"bound {r['decode_bound_tokens_per_second']:.1f} tok/s); peak RSS {r['peak_rss_bytes']/1e6:.0f} MB")
PY
rm -rf "$out"
