"""Encoding throughput, one thread: `mixture tokenize` against the tokenizers library (Rust, through
its Python binding) on the same corpus and tokenizer, in one run.

    swift build -c release --product mixture
    /tmp/mixture-refenv/bin/python Scripts/bench_tokenizers.py [--repeat 20] [NAME ...]

NAME is a fixture under Tests/Fixtures/tokenizers (default: gpt2 llama3 qwen2 llama2 bert unigram_t5).
The corpus is the committed stress texts plus fuzz texts, repeated to ~2 MB, one line each.
Ours: time spent inside Tokenizer.encode (`mixture tokenize --timing`), JSON I/O excluded.
Theirs: (a) encode() per line, (b) encode_batch() of all lines; RAYON_NUM_THREADS=1 so the Rust side uses one thread.
"""
import argparse, json, os, subprocess, sys, time
from pathlib import Path

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
from tokenizers import Tokenizer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "Tests/Fixtures/tokenizers"


def corpus(target_bytes=2_000_000):
    texts = []
    for g in sorted(FIXTURES.glob("*/goldens.json")):
        data = json.load(open(g))
        texts += [c["text"] for c in data.get("cases", []) if c["text"]]
    fuzz = FIXTURES / "fuzz_corpus.json"
    if fuzz.exists():
        f = json.load(open(fuzz))
        texts += [t for t in (f if isinstance(f, list) else f.get("texts", [])) if isinstance(t, str) and t]
    texts = [t.replace("\n", " ") for t in dict.fromkeys(texts)]
    lines, size = [], 0
    while size < target_bytes:
        for t in texts:
            lines.append(t)
            size += len(t.encode())
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("names", nargs="*", default=["gpt2", "llama3", "qwen2", "llama2", "bert", "unigram_t5"])
    ap.add_argument("--mixture", default=str(ROOT / ".build/release/mixture"))
    a = ap.parse_args()
    lines = corpus()
    nbytes = sum(len(l.encode()) for l in lines)
    stdin = "".join(json.dumps(l) + "\n" for l in lines)
    print(f"corpus: {len(lines)} lines, {nbytes / 1e6:.2f} MB; one thread each")
    print(f"{'tokenizer':14} {'mixture MB/s':>13} {'rust encode MB/s':>17} {'rust batch MB/s':>16} {'ratio vs encode':>16} {'ratio vs batch':>15}")
    for name in a.names:
        path = FIXTURES / name
        r = subprocess.run([a.mixture, "tokenize", "--tokenizer", str(path), "--timing"], input=stdin, capture_output=True, text=True,
                           env=dict(os.environ, MIXTURE_THREADS="1"))
        if r.returncode != 0:
            print(name, "mixture failed:", r.stderr.strip()); continue
        ours = float(r.stderr.strip().split()[-2])
        tok = Tokenizer.from_file(str(path / "tokenizer.json"))
        tok.no_truncation(); tok.no_padding()
        t = time.perf_counter()
        for l in lines:
            tok.encode(l)
        single = nbytes / (time.perf_counter() - t) / 1e6
        t = time.perf_counter()
        tok.encode_batch(lines)
        batch = nbytes / (time.perf_counter() - t) / 1e6
        print(f"{name:14} {ours:13.2f} {single:17.2f} {batch:16.2f} {ours / single:16.2f} {ours / batch:15.2f}")


if __name__ == "__main__":
    main()
