#!/usr/bin/python3
"""PyTorch side of the Llama-family decode benchmark: a KV-cache loop in the
HF math of tests/ref/llama_ref.py (past keys/values of the KV heads only,
rotated, concatenated per step as transformers' DynamicCache does), with
transformers' sampling warpers (tests/ref/sampler_ref.py: temperature 0.9,
top-k 50, top-p 0.92) + softmax + multinomial, as tests/bench/sample does
for GPT-2.

usage: sample_torch.py MODEL THREADS NEW_TOKENS BATCH [PROMPT_LEN]
MODEL: smollm2-135m | qwen3-0.6b (tests/ref/llama_ref.py PRESETS, random
N(0, 0.02) weights).  Prints one line:
  tokens_per_s N decode_s S prefill_s P model_s M weights_mb W gbps G
where model_s is the time inside the model (without the warpers) and gbps
the weight bytes read per token (every parameter once, the tied head
included, the embedding one row) / time per decode step.  Never fails on
time.
"""
import os
import sys
import time

import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(here), "ref"))
import llama_ref as L      # noqa: E402
import sampler_ref as warp  # noqa: E402


def main():
    if len(sys.argv) < 5 or sys.argv[1] not in L.PRESETS:
        sys.exit("usage: sample_torch.py %s THREADS NEW_TOKENS BATCH "
                 "[PROMPT_LEN]" % "|".join(L.PRESETS))
    name, threads, new_tokens, batch = (sys.argv[1], int(sys.argv[2]),
                                        int(sys.argv[3]), int(sys.argv[4]))
    plen = int(sys.argv[5]) if len(sys.argv) > 5 else 5
    torch.set_num_threads(threads)
    a = L.Arch(L.PRESETS[name])
    g = torch.Generator().manual_seed(0)
    P = L.hf_init(a, g)
    nparam = sum(t.numel() for t in P.values())
    wbytes = 4 * (nparam - a.V * a.C + a.C) if not a.tied else 4 * nparam
    torch.manual_seed(1)
    warpers = warp.build(0.9, 50, 0.92, 1, False)
    ids = torch.randint(0, a.V, (1, plen), generator=g).repeat(batch, 1)
    cache = {"k": [], "v": []}
    n, fwd = 0, 0.0
    with torch.no_grad():
        t0 = time.perf_counter()
        last = L.forward(a, P, ids, cache=cache)[:, -1, :]
        t1 = time.perf_counter()
        for step in range(new_tokens):
            s = last.float()
            for f in warpers:
                s = f(s)
            nxt = torch.multinomial(s.softmax(-1), 1)
            n += batch
            if step == new_tokens - 1:
                break
            tf = time.perf_counter()
            last = L.forward(a, P, nxt, cache=cache)[:, -1, :]
            fwd += time.perf_counter() - tf
        t2 = time.perf_counter()
    steps = max(1, new_tokens - 1)
    print("tokens_per_s %.2f decode_s %.3f prefill_s %.3f model_s %.3f "
          "weights_mb %.1f gbps %.2f" % (
              n / (t2 - t1), t2 - t1, t1 - t0, fwd, wbytes / 1e6,
              wbytes / (fwd / steps) / 1e9 if fwd > 0 else 0.0))


if __name__ == "__main__":
    main()
