#!/usr/bin/env python3
"""llama-quantize's output for every recipe on two synthetic F32 GGUF models, for the bit-exact
`mixture quantize` tests.

The inputs are written by gguf-py: a dense llama (12 layers so that llama.cpp's byte-ordered layer
counters, blk.10 before blk.2, matter; 4 query heads per KV head; a feed-forward width of 96 so
that ffn_down's rows fall back from 256-element to 32-element types) and a llama-architecture MoE
with 8 experts (the recipes' n_expert == 8 rules). Their float values come from a formula that the
Swift test computes exactly (SplitMix64 counters turned into float32 by exact operations), so the
fixture holds only the metadata, the tensor list and hashes. For each recipe llama-quantize writes
the output; the fixture records the FNV-1a 64 hash of the input file, of each output file and of
each output tensor's bytes, with the type llama-quantize chose for it.

Re-run from the repository root, with the llama.cpp anchor built (../shared/tools/llamacpp-anchor):
    /tmp/mixture-refenv/bin/python Scripts/gen_quantize_recipe_fixtures.py /tmp/perfmodels/build/bin
Writes Tests/Fixtures/quantize/recipes.json. Also records llama-quantize's output hashes for the
committed GGUF fixtures of real architectures (Tests/Fixtures/gguf/models, converted by
convert_hf_to_gguf.py), whose 64-wide rows exercise the fallbacks of every recipe.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import gguf
from gguf import GGUFReader, GGUFValueType

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "quantize", "recipes.json")
GOLDEN = np.uint64(0x9E3779B97F4A7C15)

RECIPES = [
    ("Q4_0", []), ("Q4_1", []), ("Q5_0", []), ("Q5_1", []), ("Q8_0", []), ("Q2_K", []), ("Q3_K_S", []),
    ("Q3_K_M", []), ("Q3_K_L", []), ("Q4_K_S", []), ("Q4_K_M", []), ("Q5_K_S", []), ("Q5_K_M", []), ("Q6_K", []),
    ("IQ4_NL", []), ("IQ4_XS", []), ("MXFP4_MOE", []), ("F16", []), ("BF16", []),
    ("Q4_K_M", ["--pure"]), ("Q4_0", ["--pure"]), ("Q4_K_M", ["--leave-output-tensor"]),
    ("Q5_K_M", ["--output-tensor-type", "q8_0", "--token-embedding-type", "q4_0"]),
    ("Q4_K_M", ["--tensor-type", "attn_q=q8_0", "--tensor-type", "FFN_UP=q5_0"]),
]


def splitmix(first, count):
    """SplitMix64 outputs number first+1 ... first+count (counter-based, so vectorised)."""
    with np.errstate(over="ignore"):
        z = (np.arange(first + 1, first + count + 1, dtype=np.uint64) * GOLDEN).astype(np.uint64)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def values(first, count, scale_exponent):
    """float32 values: v = unit·|unit| (unit from the top 24 bits, in [-1, 1)), ×8 for one in ~85,
    ×2^scale_exponent."""
    u = splitmix(first, count)
    unit = ((u >> np.uint64(40)).astype(np.int64) - (1 << 23)).astype(np.float32) * np.float32(2.0 ** -23)
    v = unit * np.abs(unit)
    v = np.where((u & np.uint64(0xFF)) < 3, v * np.float32(8), v).astype(np.float32)
    return (v * np.float32(2.0 ** scale_exponent)).astype(np.float32)


def model_tensors(moe):
    hidden, heads, kv_heads, vocab = 256, 4, 1, 64
    head_dim = hidden // heads
    layers, ffn, experts = (2, 128, 8) if moe else (12, 96, 0)
    t = [("token_embd.weight", [hidden, vocab], -2), ("output_norm.weight", [hidden], 0), ("output.weight", [hidden, vocab], -3)]
    for i in range(layers):
        p = f"blk.{i}."
        t += [(p + "attn_norm.weight", [hidden], 0), (p + "attn_q.weight", [hidden, hidden], -3),
              (p + "attn_k.weight", [hidden, kv_heads * head_dim], -3), (p + "attn_v.weight", [hidden, kv_heads * head_dim], -3),
              (p + "attn_output.weight", [hidden, hidden], -3), (p + "ffn_norm.weight", [hidden], 0)]
        if moe:
            t += [(p + "ffn_gate_inp.weight", [hidden, experts], -2), (p + "ffn_gate_exps.weight", [hidden, ffn, experts], -3),
                  (p + "ffn_up_exps.weight", [hidden, ffn, experts], -3), (p + "ffn_down_exps.weight", [ffn, hidden, experts], -3)]
        else:
            t += [(p + "ffn_gate.weight", [hidden, ffn], -3), (p + "ffn_up.weight", [hidden, ffn], -3),
                  (p + "ffn_down.weight", [ffn, hidden], -3)]
    meta = {"hidden": hidden, "heads": heads, "kv_heads": kv_heads, "layers": layers, "ffn": ffn, "experts": experts, "vocab": vocab}
    return t, meta


def write_input(path, moe):
    tensors, m = model_tensors(moe)
    w = gguf.GGUFWriter(path, "llama")
    w.add_name("mixture-quantize-fixture-moe" if moe else "mixture-quantize-fixture")
    w.add_context_length(256)
    w.add_embedding_length(m["hidden"])
    w.add_block_count(m["layers"])
    w.add_feed_forward_length(m["ffn"])
    w.add_head_count(m["heads"])
    w.add_head_count_kv(m["kv_heads"])
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(m["hidden"] // m["heads"])
    w.add_vocab_size(m["vocab"])
    if moe:
        w.add_expert_count(m["experts"])
        w.add_expert_used_count(2)
    w.add_file_type(0)
    w.add_tokenizer_model("gpt2")
    w.add_token_list([f"t{i}" for i in range(m["vocab"])])
    w.add_token_types([1] * m["vocab"])
    w.add_token_merges([])
    w.add_chat_template("{% for m in messages %}{{ m['content'] }}{% endfor %}")
    first = 0
    for name, dims, scale in tensors:
        count = int(np.prod(dims))
        data = values(first, count, scale)
        first += count
        w.add_tensor(name, data.reshape(list(reversed(dims))))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return tensors, m


def fnv1a(data):
    # FNV-1a 64 over bytes, vectorised by chunks would change nothing; plain loop over a memoryview.
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def metadata_list(path):
    r = GGUFReader(path)
    out = []
    names = {GGUFValueType.UINT8: "u8", GGUFValueType.INT8: "i8", GGUFValueType.UINT16: "u16", GGUFValueType.INT16: "i16",
             GGUFValueType.UINT32: "u32", GGUFValueType.INT32: "i32", GGUFValueType.FLOAT32: "f32", GGUFValueType.BOOL: "bool",
             GGUFValueType.STRING: "str", GGUFValueType.UINT64: "u64", GGUFValueType.INT64: "i64", GGUFValueType.FLOAT64: "f64"}
    for f in r.fields.values():
        if f.name.startswith("GGUF."):
            continue
        t = f.types[0]
        if t == GGUFValueType.ARRAY:
            item = f.types[1] if len(f.types) > 1 else GGUFValueType.UINT8
            vals = [f.parts[i] for i in f.data]
            if item == GGUFValueType.STRING:
                vals = [bytes(v).decode() for v in vals]
            else:
                vals = [v.tolist()[0] for v in vals]
            out.append({"key": f.name, "type": "array", "item": names[item], "value": vals})
        else:
            v = f.parts[f.data[0]]
            v = bytes(v).decode() if t == GGUFValueType.STRING else v.tolist()[0]
            out.append({"key": f.name, "type": names[t], "value": v})
    return out


def main():
    quantize = os.path.join(sys.argv[1], "llama-quantize")
    result = {"generator": "Scripts/gen_quantize_recipe_fixtures.py", "models": []}
    with tempfile.TemporaryDirectory() as tmp:
        for moe in (False, True):
            src = os.path.join(tmp, "in.gguf")
            tensors, m = write_input(src, moe)
            with open(src, "rb") as f:
                input_hash = fnv1a(f.read())
            model = {"moe": moe, "metadata": metadata_list(src), "inputHash": input_hash,
                     "tensors": [{"name": n, "dimensions": d, "scaleExponent": s} for n, d, s in tensors], "outputs": []}
            for ftype, flags in RECIPES:
                if ftype == "MXFP4_MOE" and not moe:
                    continue
                dst = os.path.join(tmp, "out.gguf")
                run = subprocess.run([quantize] + flags + [src, dst, ftype, "2"], capture_output=True, text=True)
                if run.returncode != 0:
                    sys.exit(f"llama-quantize {ftype} {flags} failed:\n{run.stdout}\n{run.stderr}")
                with open(dst, "rb") as f:
                    raw = f.read()
                r = GGUFReader(dst)
                per_tensor = [{"name": t.name, "type": t.tensor_type.name,
                               "hash": fnv1a(raw[t.data_offset:t.data_offset + t.n_bytes])} for t in r.tensors]
                model["outputs"].append({"type": ftype, "flags": flags, "fileHash": fnv1a(raw), "bytes": len(raw),
                                         "tensors": per_tensor})
                print("moe" if moe else "dense", ftype, flags, len(raw), sorted({t["type"] for t in per_tensor}))
            result["models"].append(model)
        result["files"] = []
        for name in ["llama.gguf", "qwen2.gguf", "qwen3.gguf", "mixtral.gguf", "olmoe.gguf"]:
            src = os.path.join(ROOT, "Tests", "Fixtures", "gguf", "models", name)
            for ftype in ["Q4_K_M", "Q8_0", "Q5_K_S", "IQ4_XS"]:
                dst = os.path.join(tmp, "out.gguf")
                run = subprocess.run([quantize, src, dst, ftype, "2"], capture_output=True, text=True)
                if run.returncode != 0:
                    sys.exit(f"llama-quantize {name} {ftype} failed:\n{run.stdout}\n{run.stderr}")
                with open(dst, "rb") as f:
                    raw = f.read()
                result["files"].append({"file": "gguf/models/" + name, "type": ftype, "fileHash": fnv1a(raw), "bytes": len(raw)})
                print(name, ftype, len(raw))
    with open(OUT, "w") as f:
        json.dump(result, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
