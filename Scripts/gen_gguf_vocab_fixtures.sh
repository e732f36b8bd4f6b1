#!/usr/bin/env bash
# Copies three of llama.cpp's vocabulary-only GGUF files and their test pairs (texts in .inp, the ids
# llama.cpp's test-tokenizer-0 must produce in .out) into Tests/Fixtures/gguf/vocab: the SentencePiece
# one (llama-spm), a byte-level BPE one with a multi-regex pre-tokenizer (deepseek-coder) and the
# WordPiece one (bert-bge). The
# other vocabularies are larger; run them with
#   MIXTURE_LLAMACPP_MODELS=LLAMACPP_SRC/models swift test --filter GGUFTokenizerTests
# Usage: bash Scripts/gen_gguf_vocab_fixtures.sh LLAMACPP_SRC   (the llama.cpp source tree, e.g. the one
# vendored in the llama-cpp-python 0.3.36 sdist: vendor/llama.cpp)
set -euo pipefail
src=${1:?usage: gen_gguf_vocab_fixtures.sh LLAMACPP_SRC}
out="$(dirname "$0")/../Tests/Fixtures/gguf/vocab"
mkdir -p "$out"
for name in llama-spm deepseek-coder bert-bge; do
  for ext in "" .inp .out; do
    cp "$src/models/ggml-vocab-$name.gguf$ext" "$out/"
  done
done
ls -l "$out"
