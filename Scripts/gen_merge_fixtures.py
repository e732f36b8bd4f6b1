#!/usr/bin/env python3
"""Generate golden fixtures from mergekit 0.1.5 for the Swift `mergekit-yaml` port.

Re-run (from the repository root):

    /tmp/mixture-refenv/bin/python Scripts/gen_merge_fixtures.py

(/tmp/mixture-refenv is created by /work/shared/tools/refenv.sh; it needs torch
CPU, transformers 5.23, tokenizers, safetensors and mergekit 0.1.5, whose
`mergekit-yaml` CLI must sit next to the python binary.)  Options:
`--only CASE[,CASE]` re-runs only those cases (models and other cases are kept;
cases.json is rewritten in full), `--no-check` skips the sanity pass,
`--check-only` runs only the sanity pass on the existing tree,
`--sort-ties-only` rewrites only torch_sort_ties.json (torch's argsort order on
arrays with many ties, for the Swift replay of torch's sort).

Without --only the script deletes and recreates Tests/Fixtures/merge/ (about
6 minutes on 2 shared cores: one mergekit-yaml process per case).
Everything is deterministic: model weights come from fixed torch.Generator
seeds, stochastic merges run with `--random-seed 0`, and every mergekit-yaml
process gets OMP_NUM_THREADS=1, PYTHONHASHSEED=0 and offline HF settings.
The sanity pass loads every expected folder with AutoModelForCausalLM and
AutoTokenizer, checks dtypes / tensor names / differences from base, the
passthrough layer provenance, the rescale:false DARE/DELLA masks, and prints
the kept fraction and L1 rescale factor of the *_single stochastic cases.

Layout of Tests/Fixtures/merge/:

  models/<name>/        tiny `save_pretrained` folders: config.json,
                        generation_config.json, model.safetensors, plus a
                        32-token WordLevel tokenizer (tokenizer.json,
                        tokenizer_config.json, special_tokens_map.json; the
                        last one is written by this script because
                        transformers 5 no longer writes it).
      base, ft1, ft2, ft3          LlamaForCausalLM f32: vocab 32, hidden 16,
                                   intermediate 20 (small for the size budget,
                                   non-square so transposes show), 2 heads /
                                   1 kv head, 4 layers, untied lm_head.
      base_bf16, ft1_bf16, ft2_bf16  the same weights cast to bfloat16, except
                                   that where two nonzero |ftK - base| of one
                                   tensor collide on the bf16 grid, one of them
                                   is moved 1 bf16 ulp further from base (so
                                   TIES top-k never depends on sort tie-breaking;
                                   torch's CPU argsort order for ties is
                                   implementation-defined).
      moe_base, moe_ft1, moe_ft2   MixtralForCausalLM f32: vocab 32, hidden 16,
                                   intermediate 16, 2 layers, 4 experts, top-2
                                   (stored by transformers in the legacy
                                   per-expert `block_sparse_moe.experts.N.wK`
                                   layout).
      Base weights: N(0, 0.2) (norm weights: 1 + N(0, 0.2)).  ftK = base +
      delta_K where delta_K is nonzero on a random ~60% of the entries of every
      tensor (elsewhere ftK is bit-identical to base) with N(0, 0.05) values.
      ft2: on about half of the entries it shares with ft1 its delta is
      -0.5 * delta_1 (+ small noise), i.e. sign-opposed to ft1.  ft3: on about
      half of the entries it shares with ft1 its delta is +0.5 * delta_1
      (+ noise), i.e. aligned with ft1.

  cases/<case>/config.yml   a mergekit YAML config; model paths are relative
                            to this directory (`../../models/base`).
  cases/<case>/expected/    `mergekit-yaml config.yml expected <args>` output,
                            run with cwd = cases/<case>; README.md and
                            mergekit_config.yml are deleted.
  cases.json                list of {name, method, stochastic, mergekit_args,
                            seed, max_shard_size, compare, notes}.
                            compare: "exact" (f32, compare at 1e-5 relative),
                            "bf16" (bf16 output, compare at bf16 rounding),
                            "stats" (random masks: compare kept fraction and
                            rescaling, not values).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import torch

torch.set_num_threads(1)

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "Tests" / "Fixtures" / "merge"
PY_BIN = Path(sys.executable).parent
MERGEKIT_YAML = PY_BIN / "mergekit-yaml"

VOCAB_WORDS = (
    "the a cat dog sat on mat and ran to big small red blue is was it he she "
    "we they you i of in with for at by"
).split()


# --------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------


def llama_config(dtype):
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=32,
        hidden_size=16,
        intermediate_size=20,
        num_hidden_layers=4,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=64,
        tie_word_embeddings=False,
        bos_token_id=1,
        eos_token_id=2,
        dtype=dtype,
    )


def mixtral_config(dtype):
    from transformers import MixtralConfig

    return MixtralConfig(
        vocab_size=32,
        hidden_size=16,
        intermediate_size=16,
        num_hidden_layers=2,
        num_local_experts=4,
        num_experts_per_tok=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=64,
        tie_word_embeddings=False,
        bos_token_id=1,
        eos_token_id=2,
        dtype=dtype,
    )


def base_vocab():
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for w in VOCAB_WORDS:
        vocab[w] = len(vocab)
    assert len(vocab) == 32, len(vocab)
    return vocab


def save_tokenizer(path: Path, vocab=None):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = vocab or base_vocab()
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>"
    )
    fast.save_pretrained(str(path))
    stm = path / "special_tokens_map.json"
    if not stm.exists():
        stm.write_text(
            json.dumps(
                {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"},
                indent=2,
            )
            + "\n"
        )


def base_state(names_shapes, seed):
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for name, shape in names_shapes:
        w = torch.randn(shape, generator=g, dtype=torch.float32) * 0.2
        if name.endswith("norm.weight"):
            w = w + 1.0
        sd[name] = w
    return sd


def deltas(base, seed):
    """Return (d1, d2, d3) dicts; each delta is exactly 0 on ~40% of entries."""
    g = torch.Generator().manual_seed(seed)
    d1, d2, d3 = {}, {}, {}
    for name, w in base.items():
        shape = w.shape

        def rmask(p=0.6):
            return torch.rand(shape, generator=g) < p

        def noise(s=0.05):
            return torch.randn(shape, generator=g) * s

        m1, m2, m3 = rmask(), rmask(), rmask()
        n1, n2, n3 = noise(), noise(), noise()
        opp = rmask(0.5) & m1 & m2  # ft2 sign-opposed to ft1 here
        ali = rmask(0.5) & m1 & m3  # ft3 aligned with ft1 here
        small2, small3 = noise(0.01), noise(0.01)
        a = torch.where(m1, n1, torch.zeros(()))
        b = torch.where(m2, n2, torch.zeros(()))
        b = torch.where(opp, -0.5 * a + small2, b)
        c = torch.where(m3, n3, torch.zeros(()))
        c = torch.where(ali, 0.5 * a + small3, c)
        # guarantee the masks are exact (no accidental zero from noise)
        for d, m in ((a, m1), (b, m2), (c, m3)):
            d[m & (d == 0)] = 1e-3
        d1[name], d2[name], d3[name] = a, b, c
    return d1, d2, d3


def assert_distinct_magnitudes(base, ft, label):
    """Magnitude-ranking methods (TIES top-k, breadcrumbs) must not depend on how
    a sort breaks ties: within every tensor the nonzero |ft - base| are distinct."""
    for k, b in base.items():
        a = (ft[k].float() - b.float()).abs().reshape(-1)
        a = a[a != 0]
        assert a.unique().numel() == a.numel(), f"{label}: duplicate |delta| in {k}"


def _bf16_step_away(x, direction):
    """Move bf16 values one ulp up (direction > 0) or down (direction < 0)."""
    bits = x.view(torch.int16).clone()
    up = direction > 0
    pos = x.float() > 0
    # for positive values the bit pattern grows with the value, for negative it shrinks
    bits = torch.where(up == pos, bits + 1, bits - 1)
    return bits.view(torch.bfloat16)


def bf16_untied(b16, ft):
    """ft rounded to bf16; then any nonzero |ft - base| that collides with another
    one in the same tensor (common on the coarse bf16 grid) is moved one bf16 ulp
    further from base until all magnitudes are distinct.  Entries where ft == base
    in bf16 stay bit-identical to base."""
    out = {}
    for k, b in b16.items():
        x = ft[k].bfloat16().reshape(-1).clone()
        bf = b.reshape(-1)
        for _ in range(1000):
            d = x.float() - bf.float()
            a = d.abs()
            nz = (a != 0).nonzero().squeeze(1)
            vals, order = a[nz].sort(stable=True)
            dup = vals[1:] == vals[:-1]
            if not dup.any():
                break
            idx = nz[order[1:][dup]]
            x[idx] = _bf16_step_away(x[idx], torch.sign(d[idx]))
        else:
            raise RuntimeError(f"could not untie {k}")
        out[k] = x.reshape(b.shape)
    return out


def save_model(cls, cfg, sd, path: Path, dtype):
    model = cls(cfg)
    missing, unexpected = model.load_state_dict(sd, strict=True), None
    del missing, unexpected
    model = model.to(dtype)
    model.config.dtype = dtype
    model.generation_config.bos_token_id = 1
    model.generation_config.eos_token_id = 2
    model.save_pretrained(str(path))
    save_tokenizer(path)


def make_models():
    from transformers import LlamaForCausalLM, MixtralForCausalLM

    mdir = OUT / "models"
    torch.manual_seed(0)
    # Llama family
    cfg = llama_config(torch.float32)
    names = [(k, tuple(v.shape)) for k, v in LlamaForCausalLM(cfg).state_dict().items()]
    names.sort()
    base = base_state(names, seed=1234)
    d1, d2, d3 = deltas(base, seed=5678)
    fams = {
        "base": base,
        "ft1": {k: base[k] + d1[k] for k in base},
        "ft2": {k: base[k] + d2[k] for k in base},
        "ft3": {k: base[k] + d3[k] for k in base},
    }
    for name, sd in fams.items():
        save_model(LlamaForCausalLM, llama_config(torch.float32), sd, mdir / name, torch.float32)
    for name, sd in fams.items():
        if name != "base":
            assert_distinct_magnitudes(base, sd, name)
    b16 = {k: v.bfloat16() for k, v in base.items()}
    for name in ("base", "ft1", "ft2"):
        sd = b16 if name == "base" else bf16_untied(b16, fams[name])
        if name != "base":
            assert_distinct_magnitudes(b16, sd, name + "_bf16")
        save_model(
            LlamaForCausalLM,
            llama_config(torch.bfloat16),
            sd,
            mdir / f"{name}_bf16",
            torch.bfloat16,
        )
    # Mixtral family
    mcfg = mixtral_config(torch.float32)
    mnames = [(k, tuple(v.shape)) for k, v in MixtralForCausalLM(mcfg).state_dict().items()]
    mnames.sort()
    mbase = base_state(mnames, seed=4321)
    e1, e2, _ = deltas(mbase, seed=8765)
    for name, sd in (
        ("moe_base", mbase),
        ("moe_ft1", {k: mbase[k] + e1[k] for k in mbase}),
        ("moe_ft2", {k: mbase[k] + e2[k] for k in mbase}),
    ):
        save_model(MixtralForCausalLM, mixtral_config(torch.float32), sd, mdir / name, torch.float32)
    make_vocab_model()


VOCAB_SWAP = (5, 9)
VOCAB_EXTRA = ("<extra_a>", "<extra_b>")


def make_vocab_model():
    """models/ft_vocab: ft2's weights under a different tokenizer: two tokens trade ids (their
    embedding and lm_head rows trade places too) and two new tokens get ids 32 and 33 with random
    rows (vocab_size 34). Exercises tokenizer_source vocabulary alignment."""
    from safetensors.torch import load_file
    from transformers import LlamaConfig, LlamaForCausalLM

    src = OUT / "models/ft2"
    sd = {k: v.clone() for k, v in load_file(str(src / "model.safetensors")).items()}
    a, b = VOCAB_SWAP
    g = torch.Generator().manual_seed(99)
    for name in ("model.embed_tokens.weight", "lm_head.weight"):
        w = sd[name]
        w[[a, b]] = w[[b, a]]
        sd[name] = torch.cat([w, torch.randn(len(VOCAB_EXTRA), w.shape[1], generator=g) * 0.2])
    vocab = base_vocab()
    inv = {i: t for t, i in vocab.items()}
    vocab[inv[a]], vocab[inv[b]] = b, a
    for t in VOCAB_EXTRA:
        vocab[t] = len(vocab)
    cfg = llama_config(torch.float32)
    cfg.vocab_size = 32 + len(VOCAB_EXTRA)
    model = LlamaForCausalLM(cfg)
    model.load_state_dict(sd, strict=True)
    model.config.dtype = torch.float32
    model.generation_config.bos_token_id = 1
    model.generation_config.eos_token_id = 2
    model.save_pretrained(str(OUT / "models/ft_vocab"))
    save_tokenizer(OUT / "models/ft_vocab", vocab)


# --------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------


def M(name):
    return f"../../models/{name}"


SEED_ARGS = ["--random-seed", "0"]

CASES = []


def case(name, method, config, compare="exact", args=(), notes="", stochastic=False, extra_tensors=()):
    CASES.append(
        dict(
            name=name,
            method=method,
            config=config.strip("\n") + "\n",
            args=list(args),
            compare=compare,
            notes=notes,
            stochastic=stochastic,
            extra_tensors=list(extra_tensors),
        )
    )


# ---- linear ---------------------------------------------------------------
case("linear", "linear", f"""
models:
  - model: {M('ft1')}
    parameters:
      weight: 0.5
  - model: {M('ft2')}
    parameters:
      weight: 0.3
  - model: {M('ft3')}
    parameters:
      weight: 0.7
merge_method: linear
dtype: float32
""", notes="3-model weighted average, normalize default true (divide by weight sum 1.5)")

case("linear_no_normalize", "linear", f"""
models:
  - model: {M('base')}
    parameters:
      weight: 0.6
  - model: {M('ft1')}
    parameters:
      weight: 0.3
  - model: {M('ft2')}
    parameters:
      weight: 0.2
merge_method: linear
parameters:
  normalize: false
dtype: float32
""", notes="weighted sum without normalization (weights sum 1.1)")

case("linear_sharded", "linear", f"""
models:
  - model: {M('ft1')}
    parameters:
      weight: 1.0
  - model: {M('ft2')}
    parameters:
      weight: 1.0
merge_method: linear
dtype: float32
""", args=["--out-shard-size", "20K"],
    notes="plain average written with --out-shard-size 20K (20000 bytes) -> model-0000N-of-0000M.safetensors + model.safetensors.index.json")

# ---- task arithmetic --------------------------------------------------------
case("task_arithmetic", "task_arithmetic", f"""
models:
  - model: {M('ft1')}
    parameters:
      weight: 0.7
  - model: {M('ft2')}
    parameters:
      weight: 0.4
merge_method: task_arithmetic
base_model: {M('base')}
parameters:
  lambda: 0.8
dtype: float32
""", notes="base + lambda * sum(w_i * delta_i), lambda 0.8, no normalization; base not listed in models (added implicitly)")

case("task_arithmetic_slices", "task_arithmetic", f"""
slices:
  - sources:
      - model: {M('base')}
        layer_range: [0, 2]
      - model: {M('ft1')}
        layer_range: [0, 2]
        parameters:
          weight: 0.8
      - model: {M('ft2')}
        layer_range: [0, 2]
    parameters:
      weight: 0.5
  - sources:
      - model: {M('base')}
        layer_range: [2, 4]
      - model: {M('ft1')}
        layer_range: [2, 4]
      - model: {M('ft2')}
        layer_range: [2, 4]
        parameters:
          weight:
            - filter: mlp
              value: 1.0
    parameters:
      lambda: 1.2
merge_method: task_arithmetic
base_model: {M('base')}
parameters:
  weight: 0.3
  lambda: 0.9
dtype: float32
""", notes=(
    "parameter precedence source > slice > global: slice0 ft1 w=0.8 (source), ft2 w=0.5 (slice), lambda 0.9 (global); "
    "slice1 ft1 w=0.3 (global), ft2 w=1.0 on mlp else falls through to global 0.3 (filter list without fallback), lambda 1.2 (slice); "
    "embed_tokens resolves with slice0, model.norm/lm_head with slice1"))

case("task_arithmetic_bf16", "task_arithmetic", f"""
models:
  - model: {M('ft1_bf16')}
    parameters:
      weight: 0.7
  - model: {M('ft2_bf16')}
    parameters:
      weight: 0.4
merge_method: task_arithmetic
base_model: {M('base_bf16')}
parameters:
  lambda: 0.8
dtype: bfloat16
""", compare="bf16",
    notes="bf16 inputs with dtype bfloat16: deltas, weighting, sum, lambda all computed op by op in bf16 by torch")

# ---- TIES family ------------------------------------------------------------
case("ties", "ties", f"""
models:
  - model: {M('base')}
  - model: {M('ft1')}
    parameters:
      density: 0.5
      weight: 0.6
  - model: {M('ft2')}
    parameters:
      density: 0.3
      weight: 0.5
  - model: {M('ft3')}
    parameters:
      density: 0.7
      weight: 0.4
merge_method: ties
base_model: {M('base')}
parameters:
  int8_mask: true
dtype: float32
""", notes="magnitude top-k per model (density), sign consensus (sum), normalize default true, int8_mask")

case("ties_gradient", "ties", f"""
models:
  - model: {M('ft1')}
    parameters:
      density: [0.2, 0.5, 0.9]
      weight: 0.7
  - model: {M('ft2')}
    parameters:
      density: [0.9, 0.5, 0.2]
      weight: 0.5
merge_method: ties
base_model: {M('base')}
parameters:
  normalize: false
dtype: float32
""", notes=(
    "density gradients interpolated over layers (t = layer/(n-1): layers get 0.2, 0.4, 0.6333, 0.9 for ft1); "
    "pre/post weights (embed, norm, lm_head) use t = 0; normalize false"))

case("ties_filtered", "ties", f"""
models:
  - model: {M('base')}
  - model: {M('ft1')}
    parameters:
      density: 0.5
      weight:
        - filter: self_attn
          value: 0.8
        - filter: mlp
          value: 0.2
        - value: 0.5
  - model: {M('ft2')}
    parameters:
      density: 0.5
      weight:
        - filter: self_attn
          value: 0.2
        - filter: mlp
          value: 0.8
        - value: 0.5
merge_method: ties
base_model: {M('base')}
dtype: float32
""", notes="per-tensor weights by name filter (self_attn / mlp / fallback value), substring match on tensor name")

case("ties_tokenizer_base", "ties", f"""
models:
  - model: {M('ft1')}
    parameters:
      density: 0.5
      weight: 0.5
  - model: {M('ft2')}
    parameters:
      density: 0.5
      weight: 0.5
merge_method: ties
base_model: {M('base')}
tokenizer_source: base
dtype: float32
""", notes="tokenizer_source: base -> tokenizer rebuilt and re-saved by transformers (not copied), embeddings/lm_head go through vocab permutation (identity here), vocab_size rewritten")

case("ties_f32_out_bf16", "ties", f"""
models:
  - model: {M('ft1_bf16')}
    parameters:
      density: 0.5
      weight: 0.5
  - model: {M('ft2_bf16')}
    parameters:
      density: 0.5
      weight: 0.5
merge_method: ties
base_model: {M('base_bf16')}
dtype: float32
out_dtype: bfloat16
""", compare="bf16",
    notes="bf16 inputs upcast to f32 (dtype float32), TIES computed in f32, result cast to bf16 (out_dtype); config dtype bfloat16")

case("breadcrumbs", "breadcrumbs", f"""
models:
  - model: {M('ft1')}
    parameters:
      density: 0.5
      gamma: 0.05
      weight: 0.6
  - model: {M('ft2')}
    parameters:
      density: 0.4
      gamma: 0.1
      weight: 0.4
merge_method: breadcrumbs
base_model: {M('base')}
dtype: float32
""", notes="magnitude_outliers: drop the gamma fraction of largest |delta| and keep the next density fraction; no consensus, no normalize")

case("breadcrumbs_ties", "breadcrumbs_ties", f"""
models:
  - model: {M('ft1')}
    parameters:
      density: 0.5
      gamma: 0.05
      weight: 0.6
  - model: {M('ft2')}
    parameters:
      density: 0.5
      gamma: 0.05
      weight: 0.6
  - model: {M('ft3')}
    parameters:
      density: 0.5
      gamma: 0.05
      weight: 0.6
merge_method: breadcrumbs_ties
base_model: {M('base')}
parameters:
  normalize: true
dtype: float32
""", notes="breadcrumbs sparsification + sign consensus (sum), explicit normalize true")

# ---- DARE / DELLA (stochastic) ------------------------------------------------
case("dare_linear", "dare_linear", f"""
models:
  - model: {M('ft1')}
    parameters:
      density: 0.5
      weight: 0.6
  - model: {M('ft2')}
    parameters:
      density: 0.7
      weight: 0.4
merge_method: dare_linear
base_model: {M('base')}
dtype: float32
""", compare="stats", args=SEED_ARGS, stochastic=True,
    notes="bernoulli(density) masks, L1-norm rescale (default rescale true), no consensus, normalize default false")

case("dare_ties", "dare_ties", f"""
models:
  - model: {M('ft1')}
    parameters:
      density: 0.5
      weight: 0.6
  - model: {M('ft2')}
    parameters:
      density: 0.5
      weight: 0.4
  - model: {M('ft3')}
    parameters:
      density: 0.5
      weight: 0.5
merge_method: dare_ties
base_model: {M('base')}
dtype: float32
""", compare="stats", args=SEED_ARGS, stochastic=True,
    notes="bernoulli masks + L1 rescale + sign consensus; normalize default false")

case("della", "della", f"""
models:
  - model: {M('ft1')}
    parameters:
      density: 0.5
      epsilon: 0.1
      weight: 0.6
  - model: {M('ft2')}
    parameters:
      density: 0.5
      epsilon: 0.1
      weight: 0.4
merge_method: della
base_model: {M('base')}
parameters:
  lambda: 1.0
dtype: float32
""", compare="stats", args=SEED_ARGS, stochastic=True,
    notes="della_magprune (row-wise rank-dependent keep prob in [density-eps, density+eps]), L1 rescale, sign consensus, normalize default true")

case("della_linear", "della_linear", f"""
models:
  - model: {M('ft1')}
    parameters:
      density: 0.5
      epsilon: 0.2
      weight: 0.6
  - model: {M('ft2')}
    parameters:
      density: 0.6
      epsilon: 0.2
      weight: 0.4
merge_method: della_linear
base_model: {M('base')}
parameters:
  lambda: 1.1
dtype: float32
""", compare="stats", args=SEED_ARGS, stochastic=True,
    notes="della_magprune + L1 rescale, no consensus, normalize default false, lambda 1.1")

for meth in ("dare_linear", "dare_ties", "della", "della_linear"):
    extra = "      epsilon: 0.1\n" if meth.startswith("della") else ""
    norm = "  normalize: false\n" if meth in ("dare_linear", "della_linear") else ""
    params = f"parameters:\n{norm}" if norm else ""
    case(f"{meth}_single", meth, f"""
models:
  - model: {M('ft1')}
    parameters:
      density: 0.5
{extra}      weight: 1.0
merge_method: {meth}
base_model: {M('base')}
{params}dtype: float32
""", compare="stats", args=SEED_ARGS, stochastic=True,
        notes=(f"base + ft1 only, weight 1: output - base == mask * delta_1 * (|delta_1|_1 / |mask*delta_1|_1) per tensor "
               f"(density 0.5{', epsilon 0.1' if extra else ''})"))

case("dare_linear_single_norescale", "dare_linear", f"""
models:
  - model: {M('ft1')}
    parameters:
      density: 0.5
      weight: 1.0
merge_method: dare_linear
base_model: {M('base')}
parameters:
  normalize: false
  rescale: false
dtype: float32
""", compare="stats", args=SEED_ARGS, stochastic=True,
    notes="base + ft1, rescale false: output - base == mask * delta_1 exactly (kept entries bit-equal to ft1)")

case("della_single_norescale", "della", f"""
models:
  - model: {M('ft1')}
    parameters:
      density: 0.5
      epsilon: 0.1
      weight: 1.0
merge_method: della
base_model: {M('base')}
parameters:
  rescale: false
dtype: float32
""", compare="stats", args=SEED_ARGS, stochastic=True,
    notes="base + ft1, della with rescale false: kept entries equal ft1, dropped entries equal base")

# ---- SCE ----------------------------------------------------------------------
case("sce", "sce", f"""
models:
  - model: {M('ft1')}
  - model: {M('ft2')}
  - model: {M('ft3')}
merge_method: sce
base_model: {M('base')}
parameters:
  select_topk: 0.5
dtype: float32
""", notes="variance top-k selection (k = int(count_nonzero(var) * 0.5)), sign consensus, mean-square weights")

# ---- spherical ----------------------------------------------------------------
case("slerp", "slerp", f"""
slices:
  - sources:
      - model: {M('base')}
        layer_range: [0, 4]
      - model: {M('ft1')}
        layer_range: [0, 4]
merge_method: slerp
base_model: {M('base')}
parameters:
  t:
    - filter: self_attn
      value: [0, 0.5, 0.3, 0.7, 1]
    - filter: mlp
      value: [1, 0.5, 0.7, 0.3, 0]
    - value: 0.5
dtype: float32
""", notes=(
    "classic slerp: per-filter t gradients over 4 layers (t_layer = layer/3 interpolated into a 5-point list), "
    "fallback 0.5 for norms/embed/lm_head"))

case("nuslerp", "nuslerp", f"""
models:
  - model: {M('ft1')}
    parameters:
      weight: 0.3
  - model: {M('ft2')}
    parameters:
      weight: 0.7
merge_method: nuslerp
base_model: {M('base')}
dtype: float32
""", notes="slerp of task vectors (ft - base), t = w2/(w1+w2) = 0.7, whole tensor flattened (nuslerp_flatten default true)")

case("nuslerp_rowwise", "nuslerp", f"""
models:
  - model: {M('ft1')}
    parameters:
      weight: 0.4
  - model: {M('ft2')}
    parameters:
      weight: 0.6
merge_method: nuslerp
base_model: {M('base')}
parameters:
  nuslerp_flatten: false
  nuslerp_row_wise: true
dtype: float32
""", notes="row_wise: slerp along dim 0 (each column vector, via transpose(0,-1)) of task vectors; 1-D tensors slerp as one vector")

case("nuslerp_no_base", "nuslerp", f"""
models:
  - model: {M('ft1')}
    parameters:
      weight: 0.5
  - model: {M('ft2')}
    parameters:
      weight: 0.25
merge_method: nuslerp
parameters:
  nuslerp_flatten: false
dtype: float32
""", notes="no base: slerp of raw weights along the last dim (each row), t = 0.25/0.75")

case("multislerp", "multislerp", f"""
models:
  - model: {M('ft1')}
    parameters:
      weight: 0.5
  - model: {M('ft2')}
    parameters:
      weight: 0.3
  - model: {M('ft3')}
    parameters:
      weight: 0.2
merge_method: multislerp
base_model: {M('base')}
dtype: float32
""", notes="barycentric hypersphere interpolation of task vectors (tangent space at weighted mean), normalize_weights default")

case("multislerp_no_base", "multislerp", f"""
models:
  - model: {M('ft1')}
    parameters:
      weight: 1.0
  - model: {M('ft2')}
    parameters:
      weight: 2.0
  - model: {M('ft3')}
    parameters:
      weight: 1.0
merge_method: multislerp
dtype: float32
""", notes="multislerp of raw weights (no base), weights normalized to sum 1")

case("karcher", "karcher", f"""
models:
  - model: {M('ft1')}
  - model: {M('ft2')}
  - model: {M('ft3')}
merge_method: karcher
parameters:
  max_iter: 20
  tol: 1.0e-6
dtype: float32
""", notes="Riemannian (Karcher) mean on the unit sphere of whole tensors, equal weights, scaled by mean norm; max_iter/tol overridden")

# ---- model stock / nearswap / fusion / ram ---------------------------------------------
case("model_stock", "model_stock", f"""
models:
  - model: {M('ft1')}
  - model: {M('ft2')}
  - model: {M('ft3')}
merge_method: model_stock
base_model: {M('base')}
dtype: float32
""", notes="t = N*cos/(1+(N-1)*cos) from mean pairwise cosine of whole-tensor task vectors; out = t*avg + (1-t)*base")

case("model_stock_filter_wise", "model_stock", f"""
models:
  - model: {M('ft1')}
  - model: {M('ft2')}
  - model: {M('ft3')}
merge_method: model_stock
base_model: {M('base')}
parameters:
  filter_wise: true
dtype: float32
""", notes="filter_wise: cosine/t computed per row (last dim); 1-D tensors treated as one row")

case("nearswap", "nearswap", f"""
models:
  - model: {M('base')}
  - model: {M('ft1')}
merge_method: nearswap
base_model: {M('base')}
parameters:
  t: 0.02
dtype: float32
""", notes="weight = clamp(t / max(|base-ft1|, 1e-6), 0, 1): entries with |diff| <= 0.02 take ft1, larger ones interpolate")

case("arcee_fusion", "arcee_fusion", f"""
models:
  - model: {M('base')}
  - model: {M('ft1')}
merge_method: arcee_fusion
base_model: {M('base')}
dtype: float32
""", notes="importance = |diff| * KL(softmax(ft1)||softmax(base)) per row; keep diff where importance >= median + 1.5*IQR (sorted-index quantiles)")

case("ram", "ram", f"""
models:
  - model: {M('ft1')}
  - model: {M('ft2')}
merge_method: ram
base_model: {M('base')}
dtype: float32
""", notes="unique task-vector entries (|tv| > 1e-5 in one model) kept whole, overlapping ones averaged")

case("ramplus_tl", "ramplus_tl", f"""
models:
  - model: {M('ft1')}
  - model: {M('ft2')}
  - model: {M('ft3')}
merge_method: ramplus_tl
base_model: {M('base')}
parameters:
  r: 0.5
  alpha: 0.6
dtype: float32
""", notes="RAM+ tensor-local: unique entries scaled by 1 + r*clamp(shared/unique, 0, alpha) per model")

# ---- passthrough -------------------------------------------------------------------
case("passthrough", "passthrough", f"""
slices:
  - sources:
      - model: {M('base')}
        layer_range: [0, 3]
  - sources:
      - model: {M('ft1')}
        layer_range: [1, 4]
merge_method: passthrough
dtype: float32
""", notes=(
    "frankenmerge: 6 output layers (base 0-2, ft1 1-3 renumbered 3-5), num_hidden_layers 6; "
    "embed_tokens from first slice's model, model.norm/lm_head from last slice's model"))

case("passthrough_scale", "passthrough", f"""
slices:
  - sources:
      - model: {M('base')}
        layer_range: [0, 2]
  - sources:
      - model: {M('ft1')}
        layer_range: [1, 3]
    parameters:
      scale:
        - filter: o_proj
          value: 0.0
        - value: 1.0
  - sources:
      - model: {M('base')}
        layer_range: [3, 4]
merge_method: passthrough
dtype: float32
""", notes="slice-level scale: o_proj zeroed in output layers 2-3 (ft1 layers 1-2), everything else scale 1.0; 5 layers out")

# ---- bf16 --------------------------------------------------------------------------
case("linear_bf16", "linear", f"""
models:
  - model: {M('ft1_bf16')}
    parameters:
      weight: 1.0
  - model: {M('ft2_bf16')}
    parameters:
      weight: 0.5
merge_method: linear
""", compare="bf16",
    notes="bf16 models, no dtype key: linear accumulates in f32 then rounds to bf16 (exact vs bf16-rounded f32 result); config dtype stays bfloat16")

case("linear_f32_out_bf16", "linear", f"""
models:
  - model: {M('ft1')}
    parameters:
      weight: 0.5
  - model: {M('ft3')}
    parameters:
      weight: 0.5
merge_method: linear
dtype: float32
out_dtype: bfloat16
""", compare="bf16",
    notes="f32 models, computed in f32 and written as bf16 (out_dtype): config.json dtype rewritten float32 -> bfloat16")

# ---- MoE ---------------------------------------------------------------------------
case("moe_ties", "ties", f"""
models:
  - model: {M('moe_ft1')}
    parameters:
      density: 0.5
      weight: 0.6
  - model: {M('moe_ft2')}
    parameters:
      density: 0.5
      weight: 0.4
merge_method: ties
base_model: {M('moe_base')}
dtype: float32
""", notes=(
    "Mixtral: inputs stored as legacy per-expert w1/w2/w3, mergekit converts to fused experts.gate_up_proj [E,2I,H] / "
    "experts.down_proj [E,H,I] and merges each fused tensor as ONE tensor (top-k over all experts)"))

case("moe_linear", "linear", f"""
models:
  - model: {M('moe_base')}
    parameters:
      weight: 0.2
  - model: {M('moe_ft1')}
    parameters:
      weight: 0.4
  - model: {M('moe_ft2')}
    parameters:
      weight: 0.4
merge_method: linear
dtype: float32
""", notes="Mixtral linear average; checks the fused expert tensor names/layout in the output")


# --------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------


# Different vocabularies: ft_vocab's tokenizer has two tokens swapped and two extra tokens.
case("ties_tokenizer_base_vocab", "ties", f"""
models:
  - model: {M('ft1')}
    parameters:
      density: 0.6
      weight: 0.5
  - model: {M('ft_vocab')}
    parameters:
      density: 0.6
      weight: 0.5
merge_method: ties
base_model: {M('base')}
tokenizer_source: base
dtype: float32
""", notes="tokenizer_source base with a model whose vocabulary differs (swapped ids, 2 extra tokens dropped): rows aligned by token")
case("linear_tokenizer_model_vocab", "linear", f"""
models:
  - model: {M('base')}
    parameters:
      weight: 0.3
  - model: {M('ft1')}
    parameters:
      weight: 0.3
  - model: {M('ft_vocab')}
    parameters:
      weight: 0.4
merge_method: linear
tokenizer_source: {M('ft_vocab')}
dtype: float32
""", notes="tokenizer_source = a model path: 34-token output vocabulary; tokens only ft_vocab has take its rows in every input")


# MODEL+LORA: the adapter is folded into its base before merging (mergekit: peft merge_and_unload
# into --lora-merge-cache). Uses the LoRA fixtures (Scripts/gen_lora_fixtures.py).
case("linear_lora", "linear", f"""
models:
  - model: ../../../lora/base+../../../lora/adapter_patterns
    parameters:
      weight: 0.6
  - model: ../../../lora/finetuned
    parameters:
      weight: 0.4
merge_method: linear
dtype: float32
""", args=["--lora-merge-cache", "/tmp/mixture-merge-lora-cache"],
     notes="MODEL+LORA reference (adapter with rank/alpha patterns folded first); the base has attention biases, which "
           "mergekit's llama architecture table does not list, so mergekit drops them and Mixture keeps them",
     extra_tensors=[".self_attn.q_proj.bias", ".self_attn.k_proj.bias", ".self_attn.v_proj.bias", ".self_attn.o_proj.bias"])


# The same methods computed in a BF16 working dtype (`dtype: bfloat16` on BF16 models): torch
# rounds after every operation, so these pin down where each method rounds.
def _bf16(name, method, body):
    case(f"{name}_bf16w", method, body + "dtype: bfloat16\n", compare="bf16",
         notes=f"{method} computed op by op in bfloat16 (dtype: bfloat16, bf16 inputs)")


_B, _F1, _F2 = M("base_bf16"), M("ft1_bf16"), M("ft2_bf16")
_bf16("nearswap", "nearswap", f"""
models:
  - model: {_B}
  - model: {_F1}
merge_method: nearswap
base_model: {_B}
parameters:
  t: 0.02
""")
for _m in ("ram", "ramplus_tl", "model_stock", "karcher"):
    _bf16(_m, _m, f"""
models:
  - model: {_B}
  - model: {_F1}
  - model: {_F2}
merge_method: {_m}
base_model: {_B}
""")
_bf16("sce", "sce", f"""
models:
  - model: {_B}
  - model: {_F1}
  - model: {_F2}
merge_method: sce
base_model: {_B}
parameters:
  select_topk: 0.5
""")
_bf16("arcee_fusion", "arcee_fusion", f"""
models:
  - model: {_B}
  - model: {_F1}
merge_method: arcee_fusion
base_model: {_B}
""")
for _m, _extra in (("nuslerp", ""), ("multislerp", "")):
    _bf16(_m, _m, f"""
models:
  - model: {_F1}
    parameters:
      weight: 0.7
  - model: {_F2}
    parameters:
      weight: 0.3
merge_method: {_m}
base_model: {_B}
""")
_bf16("slerp", "slerp", f"""
slices:
  - sources:
      - model: {_B}
        layer_range: [0, 4]
      - model: {_F1}
        layer_range: [0, 4]
merge_method: slerp
base_model: {_B}
parameters:
  t:
    - filter: self_attn
      value: [0, 0.5, 0.3, 0.7, 1]
    - value: 0.4
""")
_bf16("breadcrumbs", "breadcrumbs", f"""
models:
  - model: {_F1}
    parameters:
      density: 0.5
      gamma: 0.05
      weight: 0.6
  - model: {_F2}
    parameters:
      density: 0.4
      gamma: 0.1
      weight: 0.4
merge_method: breadcrumbs
base_model: {_B}
""")


def shard_arg(args):
    if "--out-shard-size" in args:
        return args[args.index("--out-shard-size") + 1]
    return None


def seed_arg(args):
    if "--random-seed" in args:
        return int(args[args.index("--random-seed") + 1])
    return None


def run_case(c):
    cdir = OUT / "cases" / c["name"]
    if cdir.exists():
        shutil.rmtree(cdir)
    cdir.mkdir(parents=True)
    (cdir / "config.yml").write_text(c["config"])
    env = dict(os.environ)
    env.update(
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        PYTHONHASHSEED="0",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
    )
    cmd = [str(MERGEKIT_YAML), "config.yml", "expected", *c["args"]]
    proc = subprocess.run(cmd, cwd=cdir, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-8000:])
        raise RuntimeError(f"mergekit-yaml failed for case {c['name']}")
    for junk in ("README.md", "mergekit_config.yml"):
        p = cdir / "expected" / junk
        if p.exists():
            p.unlink()
    print(f"  ok {c['name']}", flush=True)


def write_cases_json():
    entries = []
    for c in CASES:
        entries.append(
            dict(
                name=c["name"],
                method=c["method"],
                stochastic=c["stochastic"],
                mergekit_args=c["args"],
                seed=seed_arg(c["args"]),
                max_shard_size=shard_arg(c["args"]),
                compare=c["compare"],
                notes=c["notes"],
                extra_tensors=c["extra_tensors"],
            )
        )
    (OUT / "cases.json").write_text(json.dumps(entries, indent=2) + "\n")


# --------------------------------------------------------------------------
# Sanity check
# --------------------------------------------------------------------------


def load_dir(path: Path):
    from safetensors.torch import load_file

    sd = {}
    for f in sorted(path.glob("*.safetensors")):
        sd.update(load_file(str(f)))
    return sd


def fused_moe(sd, n_experts=4):
    """Legacy Mixtral per-expert tensors -> fused names (as mergekit writes them)."""
    out = {}
    layers = sorted({int(k.split(".")[2]) for k in sd if ".block_sparse_moe." in k})
    for k, v in sd.items():
        if ".block_sparse_moe." not in k:
            out[k] = v
    for i in layers:
        p = f"model.layers.{i}.block_sparse_moe"
        w1 = torch.stack([sd[f"{p}.experts.{e}.w1.weight"] for e in range(n_experts)])
        w3 = torch.stack([sd[f"{p}.experts.{e}.w3.weight"] for e in range(n_experts)])
        w2 = torch.stack([sd[f"{p}.experts.{e}.w2.weight"] for e in range(n_experts)])
        out[f"model.layers.{i}.mlp.experts.gate_up_proj"] = torch.cat([w1, w3], dim=1)
        out[f"model.layers.{i}.mlp.experts.down_proj"] = w2
        out[f"model.layers.{i}.mlp.gate.weight"] = sd[f"{p}.gate.weight"]
    return out


def check():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    models = {p.name: load_dir(p) for p in sorted((OUT / "models").iterdir())}
    for name in ("ft1", "ft2", "ft3"):
        nz = tot = 0
        for k, b in models["base"].items():
            d = models[name][k] - b
            frac = (d != 0).float().mean().item()
            assert 0.2 < frac < 0.9, (name, k, frac)
            nz += (d != 0).sum().item()
            tot += d.numel()
        assert 0.55 < nz / tot < 0.65, (name, nz / tot)
        print(f"  {name}: delta nonzero on {nz / tot:.3f} of entries")
    failures = []
    for c in CASES:
        cdir = OUT / "cases" / c["name"] / "expected"
        try:
            sd = load_dir(cdir)
            cfg = json.loads((cdir / "config.json").read_text())
            model = AutoModelForCausalLM.from_pretrained(str(cdir), dtype=torch.float32)
            with torch.no_grad():
                logits = model(torch.tensor([[1, 3, 5, 7, 9]])).logits
            assert torch.isfinite(logits).all(), "non-finite logits"
            AutoTokenizer.from_pretrained(str(cdir))
            is_moe = cfg["model_type"] == "mixtral"
            is_bf = c["compare"] == "bf16"
            base = models["moe_base" if is_moe else ("base_bf16" if is_bf else "base")]
            if is_moe:
                base = fused_moe(base)
            dtypes = sorted({str(v.dtype) for v in sd.values()})
            want = "torch.bfloat16" if is_bf else "torch.float32"
            assert dtypes == [want], f"dtypes {dtypes}"
            for k, v in sd.items():
                assert torch.isfinite(v.float()).all(), f"non-finite {k}"
            n_layers = cfg["num_hidden_layers"]
            same = 0
            comparable = 0
            for k, v in sd.items():
                if k in base and base[k].shape == v.shape:
                    comparable += 1
                    if torch.equal(v.float(), base[k].float()):
                        same += 1
            if c["method"] != "passthrough":
                assert set(sd) == set(base), f"tensor names differ: {sorted(set(sd) ^ set(base))[:6]}"
                if c["name"] not in ("linear_no_normalize",):
                    assert same < comparable, "output identical to base"
            print(
                f"  {c['name']:30s} tensors={len(sd):3d} layers={n_layers} dtype={dtypes[0][6:]:8s} "
                f"identical_to_base={same}/{comparable} files={sorted(p.name for p in cdir.iterdir())}"
            )
        except Exception as e:  # noqa: BLE001
            failures.append((c["name"], repr(e)))
            print(f"  FAIL {c['name']}: {e!r}")
    extra_checks(models)
    if failures:
        raise SystemExit(f"sanity check failed: {failures}")


def extra_checks(models):
    """Structural checks for cases whose expected values are derivable by hand."""
    C = OUT / "cases"
    base, ft1 = models["base"], models["ft1"]
    # passthrough: layers 0-2 from base, 3-5 from ft1 layers 1-3
    sd = load_dir(C / "passthrough" / "expected")
    for k, v in sd.items():
        if k.startswith("model.layers."):
            i = int(k.split(".")[2])
            src, j = (base, i) if i < 3 else (ft1, i - 2)
            kk = k.replace(f"model.layers.{i}.", f"model.layers.{j}.")
            assert torch.equal(v, src[kk]), k
    assert torch.equal(sd["model.embed_tokens.weight"], base["model.embed_tokens.weight"])
    assert torch.equal(sd["lm_head.weight"], ft1["lm_head.weight"])
    assert torch.equal(sd["model.norm.weight"], ft1["model.norm.weight"])
    # passthrough_scale
    sd = load_dir(C / "passthrough_scale" / "expected")
    for i in (2, 3):
        assert (sd[f"model.layers.{i}.self_attn.o_proj.weight"] == 0).all()
        assert torch.equal(sd[f"model.layers.{i}.self_attn.q_proj.weight"],
                           ft1[f"model.layers.{i - 1}.self_attn.q_proj.weight"])
    # rescale false variants: kept entries equal ft1, others equal base
    for name in ("dare_linear_single_norescale", "della_single_norescale"):
        sd = load_dir(C / name / "expected")
        for k, v in sd.items():
            ok = (v == base[k]) | (v == ft1[k])
            assert ok.all(), (name, k)
    # single variants with rescale: out - base == c * mask * delta with one c per tensor
    for name in ("dare_linear_single", "dare_ties_single", "della_single", "della_linear_single"):
        sd = load_dir(C / name / "expected")
        kept, total, worst = 0, 0, 0.0
        for k, v in sd.items():
            d = ft1[k] - base[k]
            out = v - base[k]
            nz = d != 0
            m = out != 0
            kept += (m & nz).sum().item()
            total += nz.sum().item()
            if m.any():
                c_emp = (out[m] / d[m])
                c_l1 = d.abs().sum() / d[m].abs().sum()
                worst = max(worst, ((c_emp - c_l1).abs() / c_l1).max().item())
        print(f"  {name}: kept {kept}/{total} = {kept / total:.3f} of nonzero deltas; "
              f"max rel dev of per-entry scale from L1 ratio {worst:.2e}")
    # linear_sharded is sharded and equals the unsharded average
    idx = json.loads((C / "linear_sharded" / "expected" / "model.safetensors.index.json").read_text())
    assert len(set(idx["weight_map"].values())) > 1
    # model_stock_filter_wise: report the smallest |1 + (N-1) cos| (conditioning)
    ft2, ft3 = models["ft2"], models["ft3"]
    worst = 1e9
    for k in base:
        w0 = base[k] if base[k].dim() > 1 else base[k].unsqueeze(0)
        offs = [(m[k] if m[k].dim() > 1 else m[k].unsqueeze(0)) - w0 for m in (ft1, ft2, ft3)]
        cs = []
        for a in range(3):
            for b in range(a + 1, 3):
                num = (offs[a] * offs[b]).sum(-1)
                den = (offs[a].norm(dim=-1) * offs[b].norm(dim=-1)).clamp(min=1e-6)
                cs.append((num / den).clamp(-1, 1))
        cos = torch.stack(cs).mean(0)
        worst = min(worst, (1 + 2 * cos).abs().min().item())
    print(f"  model_stock_filter_wise: min |1 + 2 cos| over rows = {worst:.3f}")


def write_sort_ties():
    """torch's CPU argsort order on arrays full of ties (bf16 task vectors have them: mergekit's
    magnitude / breadcrumbs masks then depend on which tied entries torch's unstable sort puts
    first). Swift's TorchSortOrder must reproduce it. Written to torch_sort_ties.json:
    [{"keys": [float], "descending": bool, "order": [int]}]."""
    out = []
    g = torch.Generator().manual_seed(1234)
    for n, levels in ((40, 5), (17, 3), (300, 7), (1000, 13), (2500, 2)):
        for descending in (True, False):
            x = torch.randint(0, levels, (n,), generator=g).float() * 0.125
            order = torch.sort(x, descending=descending).indices if not descending else torch.argsort(x, descending=True)
            out.append({"keys": x.tolist(), "descending": descending, "order": order.tolist()})
    (OUT / "torch_sort_ties.json").write_text(json.dumps(out))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default=None)
    ap.add_argument("--no-check", action="store_true")
    ap.add_argument("--check-only", action="store_true")
    ap.add_argument("--sort-ties-only", action="store_true")
    a = ap.parse_args()
    if a.sort_ties_only:
        write_sort_ties()
        return
    if a.check_only:
        check()
        return
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names))
    if a.only:
        wanted = a.only.split(",")
        unknown = set(wanted) - set(names)
        if unknown:
            raise SystemExit(f"unknown cases: {sorted(unknown)}")
        todo = [c for c in CASES if c["name"] in wanted]
        if not (OUT / "models/ft_vocab").exists():
            make_vocab_model()
    else:
        if OUT.exists():
            shutil.rmtree(OUT)
        OUT.mkdir(parents=True)
        print("building models", flush=True)
        make_models()
        todo = CASES
    print(f"running {len(todo)} merges", flush=True)
    for c in todo:
        run_case(c)
    write_cases_json()
    write_sort_ties()
    for f in OUT.rglob("*"):  # safetensors writes 0600 files; make them plain 0644
        os.chmod(f, 0o755 if f.is_dir() else 0o644)
    if not a.no_check:
        print("sanity check", flush=True)
        check()


if __name__ == "__main__":
    main()
