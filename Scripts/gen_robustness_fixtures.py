#!/usr/bin/env python3
"""Goldens for the robustness regressions (Tests/Fixtures/robustness), from the tokenizers library.

Texts that begin with (or hold) a literal U+FEFF, encoded by the tokenizer.json fixtures already in
Tests/Fixtures/tokenizers, with and without special tokens. The CLI test writes each text raw
(not as a \\ufeff escape) into a JSON Lines string on `mixture tokenize`'s standard input.

Re-run from the repository root (tokenizers 0.23.3):
    /tmp/mixture-refenv/bin/python Scripts/gen_robustness_fixtures.py
"""
import json
import os

import tokenizers
from tokenizers import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "Tests", "Fixtures", "tokenizers")
OUT = os.path.join(ROOT, "Tests", "Fixtures", "robustness")

TEXTS = ["\ufeffhello world", "\ufeff", "\ufeff\ufeff twice", "mid\ufeffdle", " \ufeff after a space", "\ufeffÉtat 123"]
NAMES = ["llama3", "gpt2", "llama2", "qwen2", "bert", "unigram_t5", "roberta"]

cases = []
for name in NAMES:
    tok = Tokenizer.from_file(os.path.join(FIXTURES, name, "tokenizer.json"))
    for text in TEXTS:
        cases.append({"tokenizer": name, "text": text,
                      "ids": tok.encode(text).ids,
                      "ids_no_special": tok.encode(text, add_special_tokens=False).ids})
os.makedirs(OUT, exist_ok=True)
with open(os.path.join(OUT, "bom_goldens.json"), "w", encoding="utf-8") as f:
    json.dump({"tokenizers_version": tokenizers.__version__, "cases": cases}, f, ensure_ascii=True, indent=1)
print(f"wrote {len(cases)} cases to {OUT}/bom_goldens.json")
