#!/usr/bin/env python3
"""GGUF fixtures (Tests/Fixtures/gguf), written and read back by gguf-py, the reference for the format.

blocks.gguf: one 2 x 512 tensor per weight type Mixture reads, each holding random blocks (random
bytes, with the F16 scale fields set to finite values so that every output is a number), plus
metadata of every GGUF value type, nested arrays included. dequantized.safetensors: gguf-py's
`gguf.quants.dequantize` of each tensor, as F32 (the expected values, bit for bit). metadata.json:
the metadata as gguf-py's GGUFReader reads it back, with value types. Also writes the GGUF fuzz
seeds (Fuzz/seeds/gguf): three small files from the same writer, and two vocabulary-only files
with a tokenizer (gpt2 byte-level BPE and llama SentencePiece) for the tokenizer in the metadata.

Re-run from the repository root (gguf 0.19.0, numpy, safetensors):
    /tmp/mixture-refenv/bin/python Scripts/gen_gguf_fixtures.py
"""
import json
import os

import gguf
import numpy as np
from gguf import GGMLQuantizationType as T
from safetensors.numpy import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "gguf")
ROWS, COLUMNS = 2, 512

# Byte offsets of the F16 scale fields inside one block of each type.
HALF_FIELDS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
    T.IQ4_NL: [0], T.IQ4_XS: [0], T.MXFP4: [],
}


def random_halves(rng, count):
    # Mostly small normal values, with zeros, negatives and subnormals among them.
    values = (rng.standard_normal(count) * 0.05).astype(np.float16)
    values[rng.random(count) < 0.05] = np.float16(0)
    values[rng.random(count) < 0.05] = np.float16(3e-6)
    return values.view(np.uint8).reshape(count, 2)


def quantized_rows(rng, qtype):
    elements, block_bytes = gguf.GGML_QUANT_SIZES[qtype]
    blocks = ROWS * COLUMNS // elements
    raw = rng.integers(0, 256, size=(blocks, block_bytes), dtype=np.uint8)
    for offset in HALF_FIELDS[qtype]:
        raw[:, offset:offset + 2] = random_halves(rng, blocks)
    return raw.reshape(ROWS, COLUMNS // elements * block_bytes)


def main():
    rng = np.random.default_rng(20261204)
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "blocks.gguf")
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_uint8("test.uint8", 200)
    writer.add_int8("test.int8", -100)
    writer.add_uint16("test.uint16", 60000)
    writer.add_int16("test.int16", -30000)
    writer.add_uint32("test.uint32", 4000000000)
    writer.add_int32("test.int32", -2000000000)
    writer.add_float32("test.float32", 0.1)
    writer.add_uint64("test.uint64", 2**63 + 5)
    writer.add_int64("test.int64", -(2**62))
    writer.add_float64("test.float64", -1.0 / 3.0)
    writer.add_bool("test.bool", True)
    writer.add_string("test.string", "héllo\nwörld 🤖")
    writer.add_array("test.strings", ["a", "", "<0x0A>", "▁the"])
    writer.add_array("test.int32s", [1, -2, 3])
    writer.add_array("test.float32s", [0.5, -1.25])
    writer.add_array("test.nested", [[1, 2], [3], [4, 5, 6]])

    expected = {}
    f16 = (rng.standard_normal((ROWS, COLUMNS)) * 0.1).astype(np.float16)
    writer.add_tensor("f16", f16)
    expected["f16"] = f16.astype(np.float32)
    f32 = rng.standard_normal((ROWS, COLUMNS)).astype(np.float32)
    writer.add_tensor("f32", f32)
    expected["f32"] = f32
    bf16_bits = (rng.standard_normal((ROWS, COLUMNS)).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
    writer.add_tensor("bf16", bf16_bits.view(np.uint8).reshape(ROWS, COLUMNS * 2), raw_dtype=T.BF16)
    expected["bf16"] = gguf.quants.dequantize(bf16_bits.view(np.uint8).reshape(ROWS, COLUMNS * 2), T.BF16)
    for qtype in HALF_FIELDS:
        raw = quantized_rows(rng, qtype)
        writer.add_tensor(qtype.name.lower(), raw, raw_dtype=qtype)
        expected[qtype.name.lower()] = gguf.quants.dequantize(raw, qtype).astype(np.float32)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    for name, values in expected.items():
        assert values.shape == (ROWS, COLUMNS), (name, values.shape)
    save_file({k: np.ascontiguousarray(v) for k, v in expected.items()}, os.path.join(OUT, "dequantized.safetensors"))

    # The metadata as the reference reader sees it.
    reader = gguf.GGUFReader(path)
    metadata = {}
    for field in reader.fields.values():
        if field.name.startswith("GGUF."):
            continue
        metadata[field.name] = {"types": [t.name for t in field.types], "value": to_json(field.contents())}
    tensors = [{"name": t.name, "type": t.tensor_type.name, "dimensions": [int(d) for d in t.shape],
                "offset": int(t.data_offset), "bytes": int(t.n_bytes)} for t in reader.tensors]
    with open(os.path.join(OUT, "metadata.json"), "w", encoding="utf-8") as f:
        json.dump({"gguf": gguf.__version__ if hasattr(gguf, "__version__") else "0.19.0", "metadata": metadata,
                   "tensors": tensors}, f, ensure_ascii=True, indent=1)
    print(f"wrote {path} ({os.path.getsize(path)} bytes), {len(expected)} tensors")


def to_json(value):
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    return value


def write_fuzz_seeds():
    out = os.path.join(ROOT, "Fuzz", "seeds", "gguf")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(1)
    for name, qtype, columns in [("q4_k", T.Q4_K, 256), ("q8_0", T.Q8_0, 64), ("mixed", None, 32)]:
        writer = gguf.GGUFWriter(os.path.join(out, name + ".gguf"), "llama")
        writer.add_uint32("llama.block_count", 1)
        writer.add_array("tokenizer.ggml.tokens", ["a", "b", "<0x0A>"])
        writer.add_float32("x", 1.5)
        if qtype is None:
            writer.add_tensor("f32", rng.standard_normal((2, columns)).astype(np.float32))
            writer.add_tensor("f16", rng.standard_normal((1, columns)).astype(np.float16))
        else:
            elements, block_bytes = gguf.GGML_QUANT_SIZES[qtype]
            writer.add_tensor("w", rng.integers(0, 256, size=(1, columns // elements * block_bytes), dtype=np.uint8), raw_dtype=qtype)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()


def write_tokenizer_seeds():
    out = os.path.join(ROOT, "Fuzz", "seeds", "gguf")
    os.makedirs(out, exist_ok=True)
    # gpt2: the byte alphabet's printable part plus a few merges; one control token.
    writer = gguf.GGUFWriter(os.path.join(out, "tokenizer-gpt2.gguf"), "llama")
    tokens = ["<|endoftext|>", "H", "e", "l", "o", "Ġ", "w", "r", "d", "He", "ll", "Hell", "Hello", "Ġw", "or", "Ġwor", "ld"]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("llama-bpe")
    writer.add_token_list(tokens)
    writer.add_token_types([3] + [1] * (len(tokens) - 1))
    writer.add_token_merges(["H e", "l l", "He ll", "Hell o", "Ġ w", "o r", "Ġw or", "l d"])
    writer.add_bos_token_id(0)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.close()
    # llama: scores decide the merges; byte tokens for the rest.
    writer = gguf.GGUFWriter(os.path.join(out, "tokenizer-llama.gguf"), "llama")
    tokens = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(256)] + ["▁", "H", "e", "l", "o", "▁H", "ll", "▁Hell", "▁Hello"]
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores([0.0] * 259 + [-1.0, -2.0, -3.0, -4.0, -5.0, -6.0, -7.0, -8.0, -9.0])
    writer.add_token_types([2, 3, 3] + [6] * 256 + [1] * 9)
    writer.add_add_space_prefix(True)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.close()


if __name__ == "__main__":
    main()
    write_fuzz_seeds()
    write_tokenizer_seeds()
