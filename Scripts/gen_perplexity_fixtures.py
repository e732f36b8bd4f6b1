#!/usr/bin/env python3
"""Golden perplexities for `mixture perplexity` from transformers' loss.

For three engine fixtures (Tests/Fixtures/engine/<case>), a fixed pseudo-random token stream is cut
as llama-perplexity cuts it: non-overlapping chunks of CTX tokens, the first token of each set to
the config's bos_token_id; each chunk runs alone, and the second half is scored (logits of positions
CTX/2 .. CTX-2 against the next tokens). The golden is exp of the mean cross-entropy over all scored
positions, from transformers' model run in float32 (eager attention), plus the per-token negative
log-likelihoods so the standard error can be checked too.

Re-run from the repository root:
    /tmp/mixture-refenv/bin/python Scripts/gen_perplexity_fixtures.py
Writes Tests/Fixtures/engine/perplexity.json.
"""
import json
import math
import random
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM

ROOT = Path(__file__).resolve().parent.parent
CASES = ["llama", "qwen3", "olmoe"]
CTX = 16
CHUNKS = 3


def main():
    torch.set_num_threads(1)
    out = {}
    for case in CASES:
        folder = ROOT / "Tests/Fixtures/engine" / case
        config = json.loads((folder / "config.json").read_text())
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager").eval()
        rng = random.Random(1234)
        tokens = [rng.randrange(config["vocab_size"]) for _ in range(CTX * CHUNKS + 5)]
        bos = config["bos_token_id"]
        first = CTX // 2
        nlls = []
        for c in range(len(tokens) // CTX):
            chunk = tokens[c * CTX:(c + 1) * CTX]
            chunk[0] = bos
            with torch.no_grad():
                logits = model(torch.tensor([chunk])).logits[0].float()
            targets = torch.tensor(chunk[first + 1:])
            loss = torch.nn.functional.cross_entropy(logits[first:CTX - 1], targets, reduction="none")
            nlls += loss.double().tolist()
        mean = sum(nlls) / len(nlls)
        out[case] = {"tokens": tokens, "context": CTX, "bos": bos, "nll": nlls, "perplexity": math.exp(mean)}
        print(case, math.exp(mean))
    (ROOT / "Tests/Fixtures/engine/perplexity.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
