#!/usr/bin/env python3
"""The tokenizer.json that `mixture convert` writes from a GGUF file, loaded by the tokenizers library,
against llama.cpp's expected ids (models/ggml-vocab-*.gguf.inp/.out: add_special off).

    MIXTURE_LLAMACPP_MODELS=LLAMACPP_SRC/models MIXTURE_WRITE_TOKENIZER_JSON=/tmp/gguf-tokjson \
        swift test --filter GGUFTokenizerTests.testEveryLlamaCppVocabularyWhenAvailable
    /tmp/mixture-refenv/bin/python Scripts/check_gguf_tokenizer_json.py /tmp/gguf-tokjson LLAMACPP_SRC/models
"""
import os
import sys

from tokenizers import Tokenizer

written, models = sys.argv[1], sys.argv[2]
failures = 0
for name in sorted(os.listdir(written)):
    tok = Tokenizer.from_file(os.path.join(written, name, "tokenizer.json"))
    texts = open(os.path.join(models, name + ".inp"), encoding="utf-8", newline="").read().split("\n__ggml_vocab_test__\n")
    lines = open(os.path.join(models, name + ".out"), encoding="utf-8").read().split("\n")
    passed = 0
    for text, line in zip(texts, lines):
        expected = [int(x) for x in line.split()]
        got = tok.encode(text, add_special_tokens=False).ids
        if got == expected:
            passed += 1
        else:
            failures += 1
            print(f"  {name}: {text!r}: tokenizers {got}, llama.cpp {expected}")
    print(f"{name}: {passed}/{len(texts)} as llama.cpp")
sys.exit(1 if failures else 0)
