"""Fixtures for the LoRA tests (Tests/MixtureMergeTests/LoRATests.swift): extract-lora against
mergekit 0.1.5, apply-lora against peft 0.21.2's merge_and_unload.

Re-run from the repository root with the reference environment (torch, transformers, peft, mergekit):

    nice -n 10 /tmp/mixture-refenv/bin/python Scripts/gen_lora_fixtures.py

It writes Tests/Fixtures/lora/ (deterministic, about 420 KB):

  base/                 tiny random Llama (F32, attention biases, untied embeddings) + config,
                        tokenizer_config.json, special_tokens_map.json, generation_config.json
  finetuned/            base + a decaying-spectrum low-rank update and some noise on every linear layer,
                        perturbed norms and embeddings
  mergekit_rank4.json   what `mergekit-extract-lora --max-rank 4` wrote for (base, finetuned): its
                        adapter_config.json, every tensor's name / shape / dtype, and per linear module the
                        relative reconstruction error ||delta - scale * B @ A||_F / ||delta||_F of the delta
                        (delta = finetuned - base, in float32), plus the exact truncated-SVD error for reference
  adapter_NAME/         random peft adapters (every trainable parameter perturbed, so lora_B is nonzero):
                          patterns: q_proj, v_proj, down_proj; rank_pattern / alpha_pattern; modules_to_save lm_head
                          rslora:   use_rslora; k_proj, o_proj with lora_bias (lora_B.bias) and bias="all"
                          embed:    LoRA on embed_tokens (lora_embedding_A/B), gate_proj, up_proj (target_modules
                                    as a regex); modules_to_save input_layernorm
                          gpt2:     on gpt2_base, Conv1D layers c_attn / c_proj (fan_in_fan_out), c_attn through
                                    rank_pattern; biases with bias="lora_only"; modules_to_save wte, which
                                    unties the head: peft's merge keeps lm_head at the base's wte and sets
                                    tie_word_embeddings false
  gpt2_base/            tiny random GPT-2 (F32, transformers' Conv1D layers store weights in × out, tied lm_head)
  merged_NAME.safetensors  peft's merge_and_unload of base + adapter_NAME, holding only the tensors that differ
                        from base (every other tensor of the merged model equals base's exactly) and any head
                        the merge untied from the embedding
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

import torch

torch.set_num_threads(1)

from peft import LoraConfig, PeftModel, get_peft_model  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "lora")
RANK = 4


def tiny_config():
    return LlamaConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        attention_bias=True,
        tie_word_embeddings=False,
        torch_dtype="float32",
    )


def save_model(model, path):
    model.save_pretrained(path, safe_serialization=True)
    with open(os.path.join(path, "tokenizer_config.json"), "w") as f:
        json.dump({"model_max_length": 64, "tokenizer_class": "PreTrainedTokenizerFast"}, f, indent=2)
    with open(os.path.join(path, "special_tokens_map.json"), "w") as f:
        json.dump({"bos_token": "<s>", "eos_token": "</s>"}, f, indent=2)


def make_finetune(base_state, generator):
    ft = {}
    for name, w in base_state.items():
        w = w.clone()
        if w.dim() == 2 and "embed_tokens" not in name and "lm_head" not in name:
            out_f, in_f = w.shape
            k = min(8, out_f, in_f)
            u, _ = torch.linalg.qr(torch.randn(out_f, k, generator=generator))
            v, _ = torch.linalg.qr(torch.randn(in_f, k, generator=generator))
            s = 0.05 * torch.tensor([0.7 ** i for i in range(k)])
            w += u @ torch.diag(s) @ v.T + 0.0005 * torch.randn(out_f, in_f, generator=generator)
        else:
            w += 0.01 * torch.randn(w.shape, generator=generator)
        ft[name] = w.contiguous()
    return ft


def run_mergekit(base_dir, ft_dir, rank):
    out = tempfile.mkdtemp(prefix="mk_lora_")
    shutil.rmtree(out)
    exe = os.path.join(os.path.dirname(sys.executable), "mergekit-extract-lora")
    subprocess.run(
        [exe, "--model", ft_dir, "--base-model", base_dir, "--out-path", out, "--max-rank", str(rank), "--device", "cpu"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return out


def record_mergekit(base_dir, ft_dir, mk_dir, rank):
    with open(os.path.join(mk_dir, "adapter_config.json")) as f:
        config = json.load(f)
    tensors = load_file(os.path.join(mk_dir, "adapter_model.safetensors"))
    base = load_file(os.path.join(base_dir, "model.safetensors"))
    ft = load_file(os.path.join(ft_dir, "model.safetensors"))
    errors = {}
    exact = {}
    for key in sorted(tensors):
        if not key.endswith(".lora_A.weight"):
            continue
        module = key[len("base_model.model."):-len(".lora_A.weight")]
        a = tensors[key].float()
        b = tensors[key.replace("lora_A", "lora_B")].float()
        r = config["rank_pattern"].get(module, config["r"])
        alpha = config["alpha_pattern"].get(module, config["lora_alpha"])
        delta = ft[module + ".weight"].float() - base[module + ".weight"].float()
        errors[module] = float(torch.linalg.norm(delta - (alpha / r) * (b @ a)) / torch.linalg.norm(delta))
        s = torch.linalg.svdvals(delta.double())
        exact[module] = float(torch.sqrt((s[rank:] ** 2).sum() / (s ** 2).sum()))
    config["target_modules"] = sorted(config["target_modules"])  # a Python set in mergekit: any order
    return {
        "rank": rank,
        "adapter_config": config,
        "tensors": {k: {"shape": list(v.shape), "dtype": str(v.dtype).replace("torch.", "")} for k, v in sorted(tensors.items())},
        "relative_error": errors,
        "exact_truncated_svd_error": exact,
    }


def random_adapter(base_dir, config, seed, name, model_class=LlamaForCausalLM):
    adapter_dir = os.path.join(OUT, "adapter_" + name)
    torch.manual_seed(seed)
    model = model_class.from_pretrained(base_dir, torch_dtype=torch.float32)
    peft_model = get_peft_model(model, config)
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for _, p in peft_model.named_parameters():
            if p.requires_grad:
                p.copy_(p + 0.05 * torch.randn(p.shape, generator=generator))
    peft_model.save_pretrained(adapter_dir, safe_serialization=True)
    del peft_model, model
    # target_modules comes out of a Python set: sort it so that re-runs give identical files.
    config_path = os.path.join(adapter_dir, "adapter_config.json")
    with open(config_path) as f:
        saved = json.load(f)
    if isinstance(saved.get("target_modules"), list):
        saved["target_modules"] = sorted(saved["target_modules"])
    with open(config_path, "w") as f:
        json.dump(saved, f, indent=2, sort_keys=True)

    model = model_class.from_pretrained(base_dir, torch_dtype=torch.float32)
    loaded = PeftModel.from_pretrained(model, adapter_dir)
    merged = loaded.merge_and_unload()
    base = load_file(os.path.join(base_dir, "model.safetensors"))
    state = merged.state_dict()
    assert set(base) <= set(state), "merge_and_unload lost tensors"
    pointers = {state[k].data_ptr() for k in base}
    # Tensors that differ from base's, plus any head the merge untied from the embedding (a tied head
    # shares the embedding's storage and is not saved).
    changed = {k: v.contiguous() for k, v in state.items()
               if (k in base and not torch.equal(v, base[k])) or (k not in base and v.data_ptr() not in pointers)}
    print(name, "tie_word_embeddings", merged.config.tie_word_embeddings, "untied head" if "lm_head.weight" in changed and "lm_head.weight" not in base else "")
    save_file(changed, os.path.join(OUT, f"merged_{name}.safetensors"), metadata={"format": "pt"})
    # Shrink what peft writes next to the adapter to what an adapter needs.
    readme = os.path.join(adapter_dir, "README.md")
    if os.path.exists(readme):
        os.remove(readme)


def main():
    if os.path.exists(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    torch.manual_seed(0)
    base_dir = os.path.join(OUT, "base")
    ft_dir = os.path.join(OUT, "finetuned")

    base = LlamaForCausalLM(tiny_config()).eval()
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in base.named_parameters():
            if name.endswith("bias"):
                p.copy_(0.02 * torch.randn(p.shape, generator=generator))
    save_model(base, base_dir)

    ft_state = make_finetune({k: v.detach() for k, v in base.state_dict().items()}, generator)
    ft = LlamaForCausalLM(tiny_config()).eval()
    ft.load_state_dict(ft_state)
    save_model(ft, ft_dir)

    mk_dir = run_mergekit(base_dir, ft_dir, RANK)
    try:
        record = record_mergekit(base_dir, ft_dir, mk_dir, RANK)
    finally:
        shutil.rmtree(mk_dir, ignore_errors=True)
    with open(os.path.join(OUT, f"mergekit_rank{RANK}.json"), "w") as f:
        json.dump(record, f, indent=1, sort_keys=True)

    patterns = LoraConfig(
        r=4,
        lora_alpha=8,
        target_modules=["q_proj", "v_proj", "down_proj"],
        rank_pattern={"down_proj": 2},
        alpha_pattern={"layers.1.self_attn.v_proj": 24},
        modules_to_save=["lm_head"],
        lora_dropout=0.0,
        task_type="CAUSAL_LM",
    )
    random_adapter(base_dir, patterns, 10, "patterns")

    rslora = LoraConfig(
        r=3,
        lora_alpha=5,
        use_rslora=True,
        target_modules=["k_proj", "o_proj"],
        lora_bias=True,
        bias="all",
        lora_dropout=0.0,
        task_type="CAUSAL_LM",
    )
    random_adapter(base_dir, rslora, 20, "rslora")

    embed = LoraConfig(
        r=4,
        lora_alpha=16,
        target_modules=r".*(embed_tokens|gate_proj|up_proj)",
        modules_to_save=["input_layernorm"],
        lora_dropout=0.0,
        task_type="CAUSAL_LM",
    )
    random_adapter(base_dir, embed, 30, "embed")

    gpt2_dir = os.path.join(OUT, "gpt2_base")
    torch.manual_seed(40)
    gpt2 = GPT2LMHeadModel(GPT2Config(vocab_size=64, n_positions=16, n_embd=32, n_layer=1, n_head=4, bos_token_id=0, eos_token_id=0)).eval()
    with torch.no_grad():
        for name, p in gpt2.named_parameters():
            if name.endswith("bias"):
                p.copy_(0.02 * torch.randn(p.shape, generator=generator))
    save_model(gpt2, gpt2_dir)
    conv1d = LoraConfig(
        r=2,
        lora_alpha=6,
        target_modules=["c_attn", "c_proj"],
        rank_pattern={"c_attn": 3},
        fan_in_fan_out=True,
        modules_to_save=["wte"],
        bias="lora_only",
        lora_dropout=0.0,
        task_type="CAUSAL_LM",
    )
    random_adapter(gpt2_dir, conv1d, 50, "gpt2", model_class=GPT2LMHeadModel)

    total = 0
    for dirpath, _, files in os.walk(OUT):
        total += sum(os.path.getsize(os.path.join(dirpath, f)) for f in files)
    errs = record["relative_error"]
    print(f"wrote {OUT} ({total // 1024} KB); mergekit rank-{RANK} relative error "
          f"{min(errs.values()):.4f}..{max(errs.values()):.4f} over {len(errs)} modules")


if __name__ == "__main__":
    main()
