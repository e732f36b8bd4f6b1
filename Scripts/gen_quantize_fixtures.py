#!/usr/bin/env python3
"""ggml's own quantizer output for deterministic rows, for the bit-exact quantizer tests.

Rows of float32 come from a formula both sides compute exactly (SplitMix64 integers turned into
floats by exact operations; see rows() here and QuantizeParityTests.swift), so the fixture holds
only hashes. Each type is quantized by ggml's ggml_quantize_chunk (the function llama-quantize
calls), read through ctypes from the anchor's libggml-base.so, once without an importance matrix
and once with per-column weights; the FNV-1a 64 hash of every quantized row is recorded, with the
RMSE of the dequantized rows (gguf-py's dequantize) against the input.

Re-run from the repository root, with the llama.cpp anchor built (../shared/tools/llamacpp-anchor):
    /tmp/mixture-refenv/bin/python Scripts/gen_quantize_fixtures.py /tmp/perfmodels/build/bin
Writes Tests/Fixtures/quantize/rows.json.
"""
import ctypes
import json
import os
import sys

import numpy as np
from gguf import GGMLQuantizationType, dequantize

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "quantize", "rows.json")
ROWS, PER_ROW = 24, 512
TYPES = ["F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K",
         "IQ4_NL", "IQ4_XS", "MXFP4"]
MASK = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)


def unit(u):
    """A float32 in [-1, 1) from the top 24 bits of u, exactly."""
    return np.float32((u >> 40) - (1 << 23)) * np.float32(2.0 ** -23)


def rows():
    """The test rows: shaped noise (v·|v|) with outliers at one power-of-two scale per row, plus
    rows that hit the quantizers' special cases (zero, constant, positive, tiny, a zero block)."""
    g = SplitMix64(20261204)
    x = np.zeros((ROWS, PER_ROW), np.float32)
    for r in range(ROWS):
        scale = np.float32(2.0 ** -(r % 5))
        for j in range(PER_ROW):
            u = g.next()
            v = unit(u)
            v = v * np.float32(abs(v))
            if (u & 0xFF) < 3:
                v = v * np.float32(8)
            x[r, j] = v * scale
    x[3, :] = 0
    x[5, :64] = 0
    x[7, :] = np.float32(0.25)
    x[9, :] = np.abs(x[9, :])
    x[11, :] = x[11, :] * np.float32(2.0 ** -60)
    x[13, 32:40] = np.float32(-1.5)
    return x


def importance():
    g = SplitMix64(7)
    return np.array([np.float32(0.25) + np.float32(g.next() >> 40) * np.float32(2.0 ** -22) for _ in range(PER_ROW)],
                    np.float32)


def fnv1a(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & MASK
    return "%016x" % h


def main():
    lib = ctypes.CDLL(os.path.join(sys.argv[1], "libggml-base.so"))
    lib.ggml_quantize_chunk.restype = ctypes.c_size_t
    lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64,
                                        ctypes.c_int64, ctypes.c_void_p]
    lib.ggml_row_size.restype = ctypes.c_size_t
    lib.ggml_row_size.argtypes = [ctypes.c_int, ctypes.c_int64]
    x = np.ascontiguousarray(rows())
    w = np.ascontiguousarray(importance())
    out = {"rows": ROWS, "perRow": PER_ROW, "seed": 20261204, "importanceSeed": 7, "types": {}}
    for name in TYPES:
        qtype = GGMLQuantizationType[name]
        row_bytes = lib.ggml_row_size(int(qtype), PER_ROW)
        entry = {"id": int(qtype), "rowBytes": row_bytes}
        for label, weights in (("plain", None), ("weighted", w)):
            buf = np.zeros(ROWS * row_bytes, np.uint8)
            n = lib.ggml_quantize_chunk(int(qtype), x.ctypes.data, buf.ctypes.data, 0, ROWS, PER_ROW,
                                        None if weights is None else weights.ctypes.data)
            assert n == ROWS * row_bytes, (name, n)
            entry[label] = [fnv1a(bytes(buf[r * row_bytes:(r + 1) * row_bytes])) for r in range(ROWS)]
            deq = dequantize(buf.reshape(ROWS, row_bytes), qtype).astype(np.float64)
            entry[label + "RMSE"] = float(np.sqrt(np.mean((deq - x.astype(np.float64)) ** 2)))
        out["types"][name] = entry
        print(name, entry["plainRMSE"], entry["weightedRMSE"])
    # A spot check of the formula, for the Swift side to assert first.
    out["probe"] = {"x[0][0]": float(x[0, 0]), "x[1][7]": float(x[1, 7]), "x[23][511]": float(x[23, 511]),
                    "w[0]": float(w[0]), "w[511]": float(w[511])}
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
