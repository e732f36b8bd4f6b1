#!/usr/bin/env python3
"""Quantized GGUF fixtures with llama.cpp's own logits, for the integer kernels' parity tests.

A tiny random OLMoE checkpoint whose rows are multiples of 256 (hidden 256, 2 heads of 128, 3
experts of width 256 with top-2 routing, 1 layer, a 256-entry byte vocabulary) is converted to
F32 GGUF by llama.cpp's convert_hf_to_gguf.py (the vocabulary step replaced by a byte-level gpt2
vocabulary whose one merge never applies, so that llama.cpp can load and tokenize it), then quantized by
llama-quantize to Q8_0, Q4_0 and Q4_K_M (Q4_K + Q6_K + its other per-tensor choices). For each
file, llama-cpp-python (logits_all=True) records the logits of every position of a fixed prompt
and the greedy continuation; llama-perplexity records the perplexity of a short text at --ctx 32.
Both keep their KV cache in F32 (type_k/type_v 0, -ctk/-ctv f32) and run without flash attention
(-fa off; llama-perplexity's default "auto" turns it on, which rounds attention through F16 and moved
this file's perplexity by 0.6%), as Mixture computes, so that the remaining differences are the
activation rounding of the integer products.

Seeds are tried until every position's top-1 logit leads the second by at least MARGIN in every
file (so argmax comparisons do not hinge on rounding).

Re-run from the repository root, with the llama.cpp anchor built (../shared/tools/llamacpp-anchor):
    LLAMA_CPP_LIB_PATH=/tmp/perfmodels/build/bin /tmp/mixture-refenv/bin/python Scripts/gen_gguf_quant_fixtures.py \\
        /tmp/perfmodels/src/llama_cpp_python-0.3.36/vendor/llama.cpp /tmp/perfmodels/build/bin
Writes Tests/Fixtures/gguf/quant/{olmoe-Q8_0,olmoe-Q4_0,olmoe-Q4_K_M}.gguf, llamacpp.json, text.txt.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "gguf", "quant")
TYPES = ["Q8_0", "Q4_0", "Q4_K_M"]
PROMPT = [1, 72, 101, 108, 108, 111, 44, 32, 119, 111, 114, 108, 100, 33, 32, 84, 104, 101, 32, 113, 117, 105, 99, 107]
NEW = 8
MARGIN = 0.05
TEXT = ("The quick brown fox jumps over the lazy dog. Pack my box with five dozen liquor jugs. "
        "How vexingly quick daft zebras jump! Sphinx of black quartz, judge my vow. "
        "The five boxing wizards jump quickly; bright vixens jump, dozy fowl quack. ") * 2


def byte_vocabulary(self, *args, **kwargs):
    # gpt2 byte-level spelling of the 256 bytes, token id = byte value.
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    spelled = dict(zip(bs, (chr(c) for c in cs)))
    w = self.gguf_writer
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list([spelled[b] for b in range(256)])
    w.add_token_types([1] * 256)
    # llama.cpp requires a merge list: one that never applies (two NUL bytes).
    w.add_token_merges([f"{spelled[0]} {spelled[0]}"])
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_add_bos_token(False)


def make_checkpoint(folder, seed):
    from transformers import OlmoeConfig, OlmoeForCausalLM
    torch.manual_seed(seed)
    config = OlmoeConfig(hidden_size=256, intermediate_size=256, num_hidden_layers=1, num_attention_heads=2,
                         num_key_value_heads=2, num_experts=3, num_experts_per_tok=2, vocab_size=256,
                         max_position_embeddings=128, initializer_range=0.25, norm_topk_prob=False,
                         bos_token_id=1, eos_token_id=2, pad_token_id=None, tie_word_embeddings=False)
    model = OlmoeForCausalLM(config).eval()
    model.save_pretrained(folder)


def main():
    source, bin_dir = sys.argv[1], sys.argv[2]
    sys.path.insert(0, os.path.join(source, "gguf-py"))
    sys.path.insert(0, source)
    import convert_hf_to_gguf
    from conversion import base
    for name in list(vars(base.TextModel)):
        if name.startswith("_set_vocab_"):
            setattr(base.TextModel, name, byte_vocabulary)
    base.TextModel.set_vocab = byte_vocabulary
    from llama_cpp import Llama

    os.makedirs(OUT, exist_ok=True)
    work = tempfile.mkdtemp()
    text_path = os.path.join(OUT, "text.txt")
    with open(text_path, "w") as f:
        f.write(TEXT)
    for seed in range(100):
        folder = os.path.join(work, "olmoe")
        shutil.rmtree(folder, ignore_errors=True)
        make_checkpoint(folder, seed)
        f32 = os.path.join(work, "olmoe-F32.gguf")
        sys.argv = ["convert_hf_to_gguf.py", folder, "--outfile", f32, "--outtype", "f32"]
        convert_hf_to_gguf.main()
        golden = {"prompt": PROMPT, "seed": seed, "files": {}}
        ok = True
        for t in TYPES:
            path = os.path.join(OUT, f"olmoe-{t}.gguf")
            subprocess.run([os.path.join(bin_dir, "llama-quantize"), f32, path, t], check=True, capture_output=True)
            llm = Llama(path, logits_all=True, verbose=False, n_ctx=64, n_threads=2, type_k=0, type_v=0)
            llm.eval(PROMPT)
            logits = np.array(llm.scores[:len(PROMPT)], dtype=np.float32)
            tokens = list(PROMPT)
            for _ in range(NEW):
                next_id = int(np.argmax(np.array(llm.scores[len(tokens) - 1])))
                tokens.append(next_id)
                llm.eval([next_id])
            generated = tokens[len(PROMPT):]
            all_logits = np.array(llm.scores[:len(tokens)], dtype=np.float32)
            top2 = np.sort(all_logits, axis=1)[:, -2:]
            margin = float((top2[:, 1] - top2[:, 0]).min())
            ok = ok and margin >= MARGIN
            golden["files"][t] = {"logits": logits.tolist(), "greedy_new_ids": generated, "top1_margin_min": margin}
            del llm
        if ok:
            break
        print(f"seed {seed}: a top-1 margin under {MARGIN}, trying the next seed")
    # llama-perplexity on each file (run after every Llama object is gone: alongside one, its output
    # came back cut short).
    for t in TYPES:
        path = os.path.join(OUT, f"olmoe-{t}.gguf")
        log = os.path.join(work, "perplexity.log")
        with open(log, "w") as out:
            subprocess.run([os.path.join(bin_dir, "llama-perplexity"), "-m", path, "-f", text_path, "-c", "32", "-b", "32",
                            "-t", "2", "-ctk", "f32", "-ctv", "f32", "-fa", "off"], check=True, stdout=out, stderr=subprocess.STDOUT)
        found = re.search(r"Final estimate: PPL = ([0-9.]+) \+/- ([0-9.]+)", open(log).read())
        assert found, open(log).read()[-2000:]
        golden["files"][t]["perplexity_ctx32"] = float(found.group(1))
        golden["files"][t]["perplexity_error"] = float(found.group(2))
    with open(os.path.join(OUT, "llamacpp.json"), "w") as f:
        json.dump(golden, f)
    for t in TYPES:
        print(t, os.path.getsize(os.path.join(OUT, f"olmoe-{t}.gguf")), "bytes", golden["files"][t]["perplexity_ctx32"])
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
