#!/usr/bin/env python3
"""Writes the hand-made fuzz seeds under Fuzz/seeds/ (the other seeds are the test fixtures).

Run from the package root:  python3 Scripts/gen_fuzz_seeds.py
Plain Python, no packages: a safetensors file is an 8-byte little-endian header length, the JSON
header, then the data section.
"""
import json
import os
import struct

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Fuzz", "seeds")


def write(target, name, data):
    folder = os.path.join(root, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def safetensors(entries, metadata=None):
    header, data = {}, b""
    for name, dtype, shape, payload in entries:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(payload)]}
        data += payload
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


write("safetensors", "two_tensors.safetensors", safetensors([
    ("model.norm.weight", "F32", [4], struct.pack("<4f", 1, 2, 3, 4)),
    ("model.embed_tokens.weight", "BF16", [2, 3], bytes(12)),
], {"format": "pt"}))
write("safetensors", "scalar_and_empty.safetensors", safetensors([
    ("scalar", "F16", [], bytes(2)),
    ("empty", "I64", [0, 5], b""),
    ("flags", "BOOL", [3], b"\x01\x00\x01"),
]))
write("safetensors", "empty_header.safetensors", safetensors([]))
# Fuzz/seeds/gguf/ comes from Scripts/gen_gguf_fixtures.py (it needs gguf-py).

for i, line in enumerate([
    '"Hello, world!"',
    '"\ufeffstarts with a byte order mark"',
    '"escapes: \\u00e9 \\ud83e\\udd16 \\n \\t \\" \\\\"',
    '[1, 2, 3, 128000]',
    '{"text": "an object", "n": -1.5e3, "ok": true, "none": null}',
    '[[[[["nested"]]]]]',
]):
    write("jsonl", f"line{i}.json", line.encode("utf-8"))
print("wrote seeds under", os.path.normpath(root))
