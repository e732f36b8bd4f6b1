#!/usr/bin/env bash
# Builds the integer kernels (Sources/CMixtureKernels) three ways on this machine: native (here
# AVX-512 VNNI), -march=haswell (AVX2 only: vpmaddubsw + vpmaddwd) and without AVX (the portable
# scalar C), runs the same random rows and activations through each, and prints the results side by
# side: all three must agree (to float summation order), so the paths a machine without VNNI compiles
# are checked here too. Usage: Scripts/check_integer_kernels_isa.sh
set -euo pipefail
cd "$(dirname "$0")/.."
S=Sources/CMixtureKernels
out=$(mktemp -d)
for flags in "-march=native" "-march=haswell" "-mno-avx2 -mno-avx"; do
  name=$(echo "$flags" | tr -d ' =-')
  clang -O2 $flags -I$S/include $S/integer_dot.c Scripts/check_integer_kernels_isa.c -lm -o "$out/$name"
  "$out/$name" > "$out/$name.txt"
done
paste "$out/marchnative.txt" "$out/marchhaswell.txt" "$out/mnoavx2mnoavx.txt" | awk '
  /^isa/ { print "isa:", $2, $4, $6; next }
  { d = ($3 - $6); if (d < 0) d = -d; e = ($3 - $9); if (e < 0) e = -e; m = ($3 < 0 ? -$3 : $3) + 1e-3
    bad = (d > 1e-5 * m || e > 1e-4 * m); if (bad) fails++
    printf "%-5s token %s  native %-12s avx2 %-12s scalar %-12s %s\n", $1, $2, $3, $6, $9, bad ? "MISMATCH" : "" }
  END { if (fails) { print fails " mismatches"; exit 1 } else print "all paths agree" }'
rm -rf "$out"
