#!/usr/bin/env python3
"""Converts engine fixtures (Tests/Fixtures/engine/<case>) to GGUF with llama.cpp's own converter.

Writes Tests/Fixtures/gguf/models/<case>.gguf (F32, so the weights are exactly the folder's), which
the tests load and run against the folder's transformers goldens, and <case>-q8_0.gguf for two cases
(quantized by the converter). The fixtures carry no tokenizer,
so the converter's vocabulary step is replaced by its own `_set_vocab_none` (tokenizer model
"none"); everything else (tensor names, q/k permutation, expert stacking, metadata) is the
converter's. Cases are those whose llama.cpp semantics equal transformers' for these configs.

Re-run from the repository root, with the llama.cpp source from ../shared/tools/llamacpp-anchor:
    /tmp/mixture-refenv/bin/python Scripts/gen_gguf_model_fixtures.py \\
        /tmp/perfmodels/src/llama_cpp_python-0.3.36/vendor/llama.cpp
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# qwen2_moe and qwen3_moe are left out: their fixtures have a dense layer (mlp_only_layers), which
# llama.cpp's qwen2moe and qwen3moe cannot hold.
CASES = ["llama", "qwen2", "qwen3", "mixtral", "olmoe"]
QUANTIZED_CASES = ["qwen3", "mixtral"]


def main():
    source = sys.argv[1]
    sys.path.insert(0, os.path.join(source, "gguf-py"))
    sys.path.insert(0, source)
    import convert_hf_to_gguf
    from conversion import base

    def no_vocabulary(self, *args, **kwargs):
        self._set_vocab_none()

    # Model classes load lazily and pick their vocabulary through the base class's helpers.
    for name in list(vars(base.TextModel)):
        if name.startswith("_set_vocab_") and name != "_set_vocab_none":
            setattr(base.TextModel, name, no_vocabulary)
    base.TextModel.set_vocab = no_vocabulary

    out = os.path.join(ROOT, "Tests", "Fixtures", "gguf", "models")
    os.makedirs(out, exist_ok=True)
    for case in CASES:
        folder = os.path.join(ROOT, "Tests", "Fixtures", "engine", case)
        target = os.path.join(out, f"{case}.gguf")
        sys.argv = ["convert_hf_to_gguf.py", folder, "--outfile", target, "--outtype", "f32"]
        convert_hf_to_gguf.main()
        print(case, os.path.getsize(target), "bytes")
    # Quantized by the converter itself (its Q8_0 quantizer), for the load-time dequantization path.
    for case in QUANTIZED_CASES:
        folder = os.path.join(ROOT, "Tests", "Fixtures", "engine", case)
        target = os.path.join(out, f"{case}-q8_0.gguf")
        sys.argv = ["convert_hf_to_gguf.py", folder, "--outfile", target, "--outtype", "q8_0"]
        convert_hf_to_gguf.main()
        print(case, "q8_0", os.path.getsize(target), "bytes")


if __name__ == "__main__":
    main()
