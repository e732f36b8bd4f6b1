#!/usr/bin/env bash
# Quality of each quantized GGUF of the anchor checkpoint against its BF16 GGUF, as llama.cpp users
# judge a quantization: `mixture perplexity` saves the BF16 run's log-probabilities (llama.cpp's
# --kl-divergence-base format), then each quantized file is compared against them (mean KL divergence,
# same top token, PPL ratio). llama-perplexity reads the same base file and reports its own figures
# for the same file, so the two tools' numbers sit side by side (and the file format is shown to
# interoperate). Text: llama.cpp's README from the vendored sdist (fixed), --ctx 512, 8 chunks.
# The weights are random, so perplexities are large; the divergences are what to compare.
# Usage: Scripts/quality_quant.sh [WORKDIR=/tmp/perfmodels] [TYPES="Q8_0 Q6_K Q4_K_M Q4_0"]
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-/tmp/perfmodels}
TYPES=${2:-"Q8_0 Q6_K Q4_K_M Q4_0"}
TEXT=$W/src/llama_cpp_python-0.3.36/vendor/llama.cpp/README.md
M=.build/release/mixture
[ "${SKIP_BUILD:-0}" = 1 ] || swift build -c release --product mixture >/dev/null
out=$(mktemp -d)
$M perplexity --model "$W/olmoe-geom-4l-BF16.gguf" --file "$TEXT" --ctx 512 --chunks 8 --save-logits "$out/base.kld" --json --quiet > "$out/base.json"
echo "BF16 base: $(cat "$out/base.json")"
printf "%-7s %12s %12s %10s %10s | %12s %10s\n" type "mean KLD" "same top" "PPL ratio" "KLD 99%" "llama.cpp KLD" "same top"
for t in $TYPES; do
  $M perplexity --model "$W/olmoe-geom-4l-$t.gguf" --kl-divergence-base "$out/base.kld" --json --quiet > "$out/$t.json"
  "$W/build/bin/llama-perplexity" -m "$W/olmoe-geom-4l-$t.gguf" --kl-divergence-base "$out/base.kld" --kl-divergence -c 512 \
      -t 2 -ctk f32 -ctv f32 -fa off > "$out/$t.peer" 2>&1 || true
  python3 - "$out/$t.json" "$out/$t.peer" "$t" <<'PY'
import json, re, sys
o = json.load(open(sys.argv[1])); peer = open(sys.argv[2]).read()
kld = re.search(r"Mean\s+KLD:\s+([0-9.]+)", peer); top = re.search(r"Same top p:\s+([0-9.]+)", peer)
print(f"{sys.argv[3]:7} {o['mean_kld']:12.6f} {100*o['same_top']:11.2f}% {o['perplexity']/o['base_perplexity']:10.4f} {o['kld_99']:10.5f} | "
      f"{kld.group(1) if kld else 'n/a':>12} {top.group(1) + '%' if top else 'n/a':>10}")
PY
done
rm -rf "$out"
