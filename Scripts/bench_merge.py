"""Wall time and peak RSS: `mixture merge` against `mergekit-yaml` (mergekit 0.1.5, torch CPU), same
machine, same config, one run. The config is TIES over three ~1.1B-parameter random BF16 Llama
models (TinyLlama-1.1B geometry: 22 layers, hidden 2048, MLP 5632, 32 heads / 4 KV heads, vocab
32000), `dtype: bfloat16`.

    swift build -c release --product mixture
    /tmp/mixture-refenv/bin/python Scripts/bench_merge.py [--dir /tmp/merge-bench] [--layers 22] [--runs 1]

The models are generated into --dir on the first run (about 2.2 GB each). Peak RSS is read from
`/usr/bin/time -v`-style accounting (resource.getrusage of the child), so it counts the mapped
input pages each tool touched. Both tools write to a fresh output folder on the same disk; the page
cache is warm for both (each input is read once before timing).
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parent.parent
HIDDEN, MLP, HEADS, KV, VOCAB = 2048, 5632, 32, 4, 32000


def make_model(path: Path, layers: int, seed: int, base: Path | None):
    """Random BF16 Llama; fine-tunes are base + N(0, 0.002) on a random half of each tensor."""
    if (path / "model.safetensors").exists():
        return
    path.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(seed)
    head_dim = HIDDEN // HEADS
    shapes = {"model.embed_tokens.weight": (VOCAB, HIDDEN), "model.norm.weight": (HIDDEN,), "lm_head.weight": (VOCAB, HIDDEN)}
    for i in range(layers):
        p = f"model.layers.{i}."
        shapes.update({
            p + "input_layernorm.weight": (HIDDEN,), p + "post_attention_layernorm.weight": (HIDDEN,),
            p + "self_attn.q_proj.weight": (HIDDEN, HIDDEN), p + "self_attn.k_proj.weight": (KV * head_dim, HIDDEN),
            p + "self_attn.v_proj.weight": (KV * head_dim, HIDDEN), p + "self_attn.o_proj.weight": (HIDDEN, HIDDEN),
            p + "mlp.gate_proj.weight": (MLP, HIDDEN), p + "mlp.up_proj.weight": (MLP, HIDDEN), p + "mlp.down_proj.weight": (HIDDEN, MLP),
        })
    base_tensors = None
    if base is not None:
        from safetensors.torch import load_file
        base_tensors = load_file(str(base / "model.safetensors"))
    tensors = {}
    for name, shape in shapes.items():
        if base_tensors is None:
            t = torch.randn(shape, generator=g) * 0.02
        else:
            t = base_tensors[name].float()
            mask = torch.rand(shape, generator=g) < 0.5
            t = t + mask * torch.randn(shape, generator=g) * 0.002
        tensors[name] = t.to(torch.bfloat16)
    save_file(tensors, str(path / "model.safetensors"), metadata={"format": "pt"})
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": HIDDEN, "intermediate_size": MLP,
        "num_attention_heads": HEADS, "num_key_value_heads": KV, "num_hidden_layers": layers, "vocab_size": VOCAB,
        "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "max_position_embeddings": 2048, "tie_word_embeddings": False,
        "hidden_act": "silu", "torch_dtype": "bfloat16", "bos_token_id": 1, "eos_token_id": 2,
    }
    (path / "config.json").write_text(json.dumps(config, indent=2))


def run(cmd: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of one command."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    out = proc.stdout.read().decode(errors="replace")
    if status != 0:
        sys.exit(f"{cmd[0]} failed:\n{out[-2000:]}")
    return wall, usage.ru_maxrss * 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="/tmp/merge-bench")
    ap.add_argument("--layers", type=int, default=22)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    d = Path(args.dir)
    make_model(d / "base", args.layers, 0, None)
    for k in (1, 2, 3):
        make_model(d / f"ft{k}", args.layers, k, d / "base")
    config = d / "ties.yml"
    config.write_text(
        "merge_method: ties\n"
        f"base_model: {d}/base\n"
        "models:\n"
        + "".join(f"  - model: {d}/ft{k}\n    parameters:\n      density: 0.5\n      weight: {w}\n" for k, w in ((1, 0.5), (2, 0.3), (3, 0.2)))
        + "parameters:\n  normalize: true\n  int8_mask: true\ndtype: bfloat16\n"
    )
    # Warm the page cache for both tools.
    for p in d.glob("*/model.safetensors"):
        with open(p, "rb") as f:
            while f.read(1 << 24):
                pass
    mixture = ROOT / ".build/release/mixture"
    mergekit = Path(sys.executable).parent / "mergekit-yaml"
    results = {"ours": [], "mergekit": []}
    for r in range(args.runs):
        for tool in ("mergekit", "ours"):
            out = d / f"out-{tool}"
            shutil.rmtree(out, ignore_errors=True)
            if tool == "ours":
                cmd = [str(mixture), "merge", str(config), str(out), "--quiet", "--seed", "0", "--threads", str(args.threads)]
            else:
                cmd = [str(mergekit), str(config), str(out), "--random-seed", "0", "--lazy-unpickle", "--no-write-model-card"]
            wall, rss = run(cmd)
            results[tool].append((wall, rss))
            print(f"run {r + 1} {tool:8s}: {wall:7.1f} s, peak RSS {rss / 2**30:5.2f} GiB", flush=True)
    med = lambda xs: sorted(xs)[len(xs) // 2]
    ow, orss = med([w for w, _ in results["ours"]]), med([m for _, m in results["ours"]])
    mw, mrss = med([w for w, _ in results["mergekit"]]), med([m for _, m in results["mergekit"]])
    print(f"TIES, 3 x {args.layers}-layer 1.1B-geometry BF16 models, {args.threads} threads")
    print(f"mixture merge : {ow:7.1f} s   peak RSS {orss / 2**30:5.2f} GiB")
    print(f"mergekit-yaml : {mw:7.1f} s   peak RSS {mrss / 2**30:5.2f} GiB")
    print(f"speed-up {mw / ow:.2f}x, memory ratio (ours / mergekit) {orss / mrss:.2f}")
    # Same tensors? (TIES is deterministic: compare bit for bit.)
    from safetensors import safe_open
    a = safe_open(str(d / "out-ours/model.safetensors"), "pt") if (d / "out-ours/model.safetensors").exists() else None
    if a is not None and (d / "out-mergekit/model.safetensors").exists():
        b = safe_open(str(d / "out-mergekit/model.safetensors"), "pt")
        differ = sum(int((a.get_tensor(k) != b.get_tensor(k)).sum()) for k in b.keys())
        print(f"elements differing from mergekit's output: {differ}")


if __name__ == "__main__":
    main()
