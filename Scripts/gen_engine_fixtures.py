#!/usr/bin/env python3
"""Generate golden-parity fixtures for the Swift engine from Hugging Face transformers.

Re-run (from the repository root; needs torch + transformers 5.x + safetensors):

    /tmp/mixture-refenv/bin/python Scripts/gen_engine_fixtures.py

(/tmp/mixture-refenv is created by /work/shared/tools/refenv.sh; any env with
torch 2.x CPU and transformers 5.23 works.)  Optional: `--list-weights` prints
the tensor names/shapes/dtypes stored in each case's safetensors files;
`--only CASE[,CASE]` regenerates a subset.

Output: Tests/Fixtures/engine/<case>/ holding a `save_pretrained` model folder
(config.json, generation_config.json, model.safetensors or shards +
model.safetensors.index.json) and golden.json:

    model_type      str
    dtype           "float32" | "bfloat16" | "float16"   (dtype of the stored weights)
    seed            int     (seed actually used; bumped until all margins are OK)
    input_ids       [int]   (prompt, 10-12 tokens)
    logits          [[float]]  [positions][vocab], float32 computed in float32
    greedy_new_ids  [int]   (8 new tokens, model.generate(do_sample=False))
    top1_margin_min float   (min over prompt+generated positions of top1 - top2 logit)
    moe_layers      [int]   (MoE only: indices of sparse layers, ascending)
    router_logits   [[[float]]]  (MoE only: [moe layer][position][num_experts], prompt forward)
    router_margin_min float (MoE only: min over positions/layers of k-th - (k+1)-th router logit)

Golden values are always computed from the folder as RELOADED from disk with
dtype=torch.float32 (so BF16/F16 cases use the rounded weights upcast to f32),
attn_implementation="eager".
"""

import argparse
import json
import math
import os
import shutil
import sys
from pathlib import Path

import torch
import transformers
from safetensors import safe_open
from transformers import AutoModelForCausalLM

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests/Fixtures/engine"

MARGIN = 1e-3
MAX_NEW = 8

# Shared tiny geometry.
BASE = dict(
    hidden_size=64,
    num_attention_heads=4,
    max_position_embeddings=256,
    initializer_range=0.2,
    rms_norm_eps=1e-6,
    hidden_act="silu",
)

# (case, config class name, dtype, prompt length, extra config, save kwargs)
CASES = [
    ("llama", "LlamaConfig", torch.float32, 12, dict(
        vocab_size=96, num_hidden_layers=2, num_key_value_heads=2, intermediate_size=64,
        # original_max_position_embeddings=64 (not 32) so that with head_dim 16 and
        # theta 5e5 the llama3 formula hits all three bands (high / medium / low freq).
        rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0,
                         "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                         "original_max_position_embeddings": 64},
        tie_word_embeddings=True, attention_bias=False, mlp_bias=False, rms_norm_eps=1e-5,
    ), {}),
    ("llama_bf16", "LlamaConfig", torch.bfloat16, 11, dict(
        vocab_size=100, num_hidden_layers=2, num_key_value_heads=2, head_dim=32, intermediate_size=64,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        tie_word_embeddings=False,
    ), {}),
    ("mistral", "MistralConfig", torch.float32, 12, dict(
        vocab_size=96, num_hidden_layers=2, num_key_value_heads=2, intermediate_size=64,
        sliding_window=4, rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        tie_word_embeddings=True,
    ), {}),
    ("qwen2", "Qwen2Config", torch.float32, 10, dict(
        vocab_size=96, num_hidden_layers=2, num_key_value_heads=2, intermediate_size=64,
        rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
        tie_word_embeddings=False, use_sliding_window=False,
    ), {}),
    ("qwen3", "Qwen3Config", torch.float32, 12, dict(
        vocab_size=96, num_hidden_layers=2, num_key_value_heads=2, head_dim=32, intermediate_size=64,
        rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
        tie_word_embeddings=False, attention_bias=False,
    ), {}),
    ("qwen3_f16", "Qwen3Config", torch.float16, 11, dict(
        vocab_size=96, num_hidden_layers=2, num_key_value_heads=2, head_dim=32, intermediate_size=64,
        rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
        tie_word_embeddings=True, attention_bias=False, initializer_range=0.15,
    ), {}),
    ("mixtral", "MixtralConfig", torch.float32, 12, dict(
        vocab_size=96, num_hidden_layers=2, num_key_value_heads=2, intermediate_size=16,
        num_local_experts=4, num_experts_per_tok=2, sliding_window=None,
        rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}, rms_norm_eps=1e-5,
        tie_word_embeddings=False,
    ), {}),
    ("mixtral_sharded", "MixtralConfig", torch.float32, 10, dict(
        vocab_size=96, num_hidden_layers=2, num_key_value_heads=2, intermediate_size=16,
        num_local_experts=4, num_experts_per_tok=2, sliding_window=None,
        rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}, rms_norm_eps=1e-5,
        tie_word_embeddings=False,
    ), {"max_shard_size": "150KB"}),
    ("qwen2_moe", "Qwen2MoeConfig", torch.float32, 12, dict(
        vocab_size=96, num_hidden_layers=4, num_key_value_heads=2,
        intermediate_size=64, moe_intermediate_size=16, shared_expert_intermediate_size=32,
        num_experts=6, num_experts_per_tok=2, norm_topk_prob=False,
        decoder_sparse_step=2, mlp_only_layers=[3],   # sparse iff (i+1)%2==0 and i not in [3] -> [1]
        qkv_bias=True, use_sliding_window=False,
        rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
        tie_word_embeddings=False,
    ), {}),
    ("qwen3_moe", "Qwen3MoeConfig", torch.float32, 11, dict(
        vocab_size=96, num_hidden_layers=3, num_key_value_heads=1, head_dim=32,
        intermediate_size=64, moe_intermediate_size=16,
        num_experts=8, num_experts_per_tok=2, norm_topk_prob=True,
        decoder_sparse_step=1, mlp_only_layers=[1],   # sparse layers -> [0, 2]
        rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
        tie_word_embeddings=False, attention_bias=False, use_sliding_window=False,
    ), {}),
    ("olmoe", "OlmoeConfig", torch.float32, 12, dict(
        vocab_size=96, num_hidden_layers=2, num_key_value_heads=4, intermediate_size=16,
        num_experts=8, num_experts_per_tok=2, norm_topk_prob=False, clip_qkv=None,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0}, rms_norm_eps=1e-5,
        tie_word_embeddings=False, attention_bias=False, pad_token_id=1,
    ), {}),
    ("olmoe_bf16", "OlmoeConfig", torch.bfloat16, 10, dict(
        vocab_size=96, num_hidden_layers=2, num_key_value_heads=2, intermediate_size=16,
        num_experts=8, num_experts_per_tok=2, norm_topk_prob=False, clip_qkv=None,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0}, rms_norm_eps=1e-5,
        tie_word_embeddings=False, attention_bias=False, pad_token_id=1,
    ), {}),
]

DTYPE_NAME = {torch.float32: "float32", torch.bfloat16: "bfloat16", torch.float16: "float16"}


def f32(x):
    """Shortest decimal that round-trips the float32 value (keeps JSON small)."""
    return float("%.9g" % float(x))


def perturb(model, gen):
    """Make norm weights != 1 and biases != 0 so that the Swift side must apply them."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1 and "norm" in name:
                p.copy_(1.0 + 0.3 * torch.randn(p.shape, generator=gen))
            elif name.endswith(".bias"):
                p.copy_(0.3 * torch.randn(p.shape, generator=gen))


def margins_top(x, k):
    """x: [n, m]; returns per-row (k-th largest - (k+1)-th largest)."""
    s = torch.sort(x, dim=-1, descending=True).values
    return s[:, k - 1] - s[:, k]


def moe_layer_indices(cfg):
    mt = cfg.model_type
    n = cfg.num_hidden_layers
    if mt in ("mixtral", "olmoe"):
        return list(range(n))
    if mt in ("qwen2_moe", "qwen3_moe"):
        return [i for i in range(n)
                if i not in cfg.mlp_only_layers and cfg.num_experts > 0 and (i + 1) % cfg.decoder_sparse_step == 0]
    return []


def try_case(name, cfg_cls_name, dtype, plen, extra, save_kw, seed, folder):
    cfg_cls = getattr(transformers, cfg_cls_name)
    kw = dict(BASE)
    kw.update(extra)
    vocab = kw["vocab_size"]
    kw.setdefault("bos_token_id", 1)
    kw["eos_token_id"] = vocab - 1   # checked below never to be generated
    cfg = cfg_cls(**kw)

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32, attn_implementation="eager")
    gen = torch.Generator().manual_seed(seed * 7919 + 17)
    perturb(model, gen)
    model = model.to(dtype)

    if folder.exists():
        shutil.rmtree(folder)
    model.save_pretrained(folder, **save_kw)
    del model

    m = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager")
    m.eval()
    assert next(m.parameters()).dtype == torch.float32

    ig = torch.Generator().manual_seed(seed * 104729 + 3)
    # avoid eos in the prompt; everything else (incl. pad/bos ids) is fair game
    input_ids = torch.randint(0, vocab - 1, (1, plen), generator=ig)

    moe_layers = moe_layer_indices(m.config)
    is_moe = bool(moe_layers)
    with torch.no_grad():
        out = m(input_ids, output_router_logits=True) if is_moe else m(input_ids)
        logits = out.logits[0].float()
        gen_ids = m.generate(input_ids, do_sample=False, max_new_tokens=MAX_NEW,
                             pad_token_id=vocab - 1)
        new_ids = gen_ids[0, plen:].tolist()

        # Independent check: greedy by full recompute (no KV cache) must agree.
        seq = input_ids
        for _ in range(MAX_NEW):
            nxt = m(seq, use_cache=False).logits[0, -1].argmax()
            seq = torch.cat([seq, nxt.view(1, 1)], dim=1)
        manual = seq[0, plen:].tolist()

        # Margins over every position whose argmax matters (prompt + generated).
        full = m(seq[:, :-1], output_router_logits=True, use_cache=False) if is_moe else m(seq[:, :-1], use_cache=False)
        top_margin = margins_top(full.logits[0].float(), 1).min().item()
        prompt_margin = margins_top(logits, 1).min().item()

        router = None
        router_margin = None
        if is_moe:
            k = m.config.num_experts_per_tok
            assert len(out.router_logits) == len(moe_layers), (len(out.router_logits), moe_layers)
            router = [r.float().reshape(plen, -1) for r in out.router_logits]
            router_margin = min(margins_top(r.float().reshape(seq.shape[1] - 1, -1), k).min().item()
                                for r in full.router_logits)

    problems = []
    if new_ids != manual:
        problems.append(f"generate {new_ids} != manual greedy {manual}")
    if len(new_ids) != MAX_NEW:
        problems.append(f"only {len(new_ids)} new tokens")
    if (vocab - 1) in new_ids:
        problems.append("eos generated")
    if min(top_margin, prompt_margin) <= MARGIN:
        problems.append(f"top1 margin {top_margin:.2e}")
    if router_margin is not None and router_margin <= MARGIN:
        problems.append(f"router margin {router_margin:.2e}")

    golden = {
        "model_type": m.config.model_type,
        "dtype": DTYPE_NAME[dtype],
        "seed": seed,
        "input_ids": input_ids[0].tolist(),
        "logits": [[f32(v) for v in row] for row in logits.tolist()],
        "greedy_new_ids": new_ids,
        "top1_margin_min": f32(min(top_margin, prompt_margin)),
    }
    if is_moe:
        golden["moe_layers"] = moe_layers
        golden["router_logits"] = [[[f32(v) for v in row] for row in r.tolist()] for r in router]
        golden["router_margin_min"] = f32(router_margin)
    info = dict(top=min(top_margin, prompt_margin), router=router_margin, moe_layers=moe_layers,
                n_layers=m.config.num_hidden_layers, vocab=vocab, plen=plen)
    return problems, golden, info


def dir_size(p):
    return sum(f.stat().st_size for f in Path(p).rglob("*") if f.is_file())


def list_weights(folder):
    files = sorted(folder.glob("*.safetensors"))
    for fpath in files:
        print(f"  [{fpath.name}]")
        with safe_open(str(fpath), "pt") as sf:
            for key in sorted(sf.keys()):
                sl = sf.get_slice(key)
                print(f"    {key:55s} {str(list(sl.get_shape())):18s} {sl.get_dtype()}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--list-weights", action="store_true")
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    only = set(filter(None, args.only.split(",")))

    print(f"torch {torch.__version__}  transformers {transformers.__version__}")
    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    for (name, cls, dtype, plen, extra, save_kw) in CASES:
        if only and name not in only:
            continue
        folder = OUT / name
        base_seed = 1000 + sum(ord(c) for c in name)
        for attempt in range(50):
            seed = base_seed + attempt
            problems, golden, info = try_case(name, cls, dtype, plen, extra, save_kw, seed, folder)
            if not problems:
                break
            print(f"  {name}: seed {seed} rejected: {'; '.join(problems)}")
        else:
            sys.exit(f"{name}: no acceptable seed found")
        with open(folder / "golden.json", "w") as fh:
            json.dump(golden, fh, separators=(",", ":"))
            fh.write("\n")
        shards = sorted(p.name for p in folder.glob("*.safetensors"))
        rows.append((name, golden["model_type"], golden["dtype"], seed, info["n_layers"], info["vocab"],
                     info["plen"], info["top"], info["router"], info["moe_layers"], len(shards),
                     dir_size(folder)))
        if args.list_weights:
            print(f"== {name} weights")
            list_weights(folder)

    print()
    hdr = f"{'case':16s} {'type':10s} {'dtype':9s} {'seed':>5s} {'L':>2s} {'V':>4s} {'T':>3s} " \
          f"{'min top1 margin':>15s} {'min router margin':>17s} {'moe_layers':12s} {'shards':>6s} {'bytes':>8s}"
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        (name, mt, dt, seed, L, V, T, top, rmar, ml, ns, sz) = r
        rm = f"{rmar:.4f}" if rmar is not None else "-"
        print(f"{name:16s} {mt:10s} {dt:9s} {seed:5d} {L:2d} {V:4d} {T:3d} {top:15.4f} {rm:>17s} "
              f"{str(ml) if ml else '-':12s} {ns:6d} {sz:8d}")
    total = dir_size(OUT)
    print(f"\nTotal size of {OUT.relative_to(ROOT)}: {total} bytes ({total / 1e6:.2f} MB)")
    # Budget: ~3-4 MB (hidden 64 with 12 cases, 8 of them float32, cannot go much lower).
    if total > 4.0e6:
        print("WARNING: fixtures exceed 4 MB")


if __name__ == "__main__":
    main()
