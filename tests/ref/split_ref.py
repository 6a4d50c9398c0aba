#!/usr/bin/python3
"""Reference vectors for ft-split and lib/rng (run with Debian's python3,
which has numpy 1.24 and torch 1.13; make check needs neither).

Writes into tests/fixtures/split/:
  perm_vectors.txt     "SEED N p0 p1 ..." = numpy default_rng(SEED).permutation(N)
  randperm_vectors.txt "SEED N p0 p1 ..." = torch.randperm(N) with manual_seed(SEED)
  in.jsonl + expected outputs of ft-split for several option sets
    (train/val as datasets.Dataset.shuffle(seed).select(...) would give them)
"""
import json
import os
import sys

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "..", "fixtures", "split")

seeds = [0, 1, 2, 7, 42, 43, 1234, 99999, 2**31 - 1, 2**32 - 1, 2**32,
         2**32 + 5, 10**12 + 3, 2**63, 2**64 - 1]
sizes = list(range(0, 41)) + [63, 64, 65, 100, 127, 128, 129, 138, 154, 155,
                              255, 256, 257, 1000, 2154, 2155, 2156]
with open(os.path.join(out, "perm_vectors.txt"), "w") as f:
    for s in seeds:
        for n in sizes:
            p = np.random.default_rng(s).permutation(n)
            f.write(" ".join(str(int(x)) for x in [s, n, *p]) + "\n")
    for s in (42,):
        p = np.random.default_rng(s).permutation(20000)
        f.write(" ".join(str(int(x)) for x in [s, 20000, *p]) + "\n")

try:
    import torch
    with open(os.path.join(out, "randperm_vectors.txt"), "w") as f:
        for s in [0, 1, 42, 43, 44, 45, 46, 1234, 2**32 - 1]:
            for n in [1, 2, 3, 10, 16, 100, 138, 1000]:
                g = torch.Generator().manual_seed(s)
                p = torch.randperm(n, generator=g).tolist()
                f.write(" ".join(str(x) for x in [s, n, *p]) + "\n")
except ImportError:
    print("torch missing: randperm_vectors.txt not rewritten", file=sys.stderr)

# A small input with varied formatting (kept byte for byte by ft-split).
recs = []
for i in range(23):
    if i % 5 == 0:
        recs.append('{ "id" : %d , "text" : "line %d \\u00e9\\n" , "x": 1.50 }' % (i, i))
    elif i % 7 == 3:
        recs.append('{"text":"caf\u00e9 %d","id":%d}' % (i, i))
    else:
        recs.append(json.dumps({"id": i, "text": "record number %d" % i}))
# blank lines are skipped; the last line has no newline
data = "\n".join(recs[:10]) + "\n\n" + "\n".join(recs[10:])
with open(os.path.join(out, "in.jsonl"), "w", encoding="utf-8") as f:
    f.write(data)
N = len(recs)


def write(name, rows):
    with open(os.path.join(out, name), "w", encoding="utf-8") as f:
        for r in rows:
            f.write(recs[r] + "\n")


def split(tag, perm, ntrain):
    write(tag + ".train", perm[:ntrain])
    write(tag + ".val", perm[ntrain:])


perm42 = [int(x) for x in np.random.default_rng(42).permutation(N)]
split("default", perm42, int(0.9 * N))                 # notebook
split("valfrac25", perm42, int((1 - 0.25) * N))        # --val-fraction 0.25
split("trainfrac5", perm42, int(0.5 * N))              # --train-fraction 0.5
perm7 = [int(x) for x in np.random.default_rng(7).permutation(N)]
split("seed7val3", perm7, N - 3)                        # --seed 7 --val-size 3
split("noshuffle", list(range(N)), int(0.9 * N))       # --no-shuffle
# --kfold 4 --fold 1: folds as sklearn KFold (first N % K folds one larger)
k, fold = 4, 1
sizes_k = [N // k + (1 if i < N % k else 0) for i in range(k)]
start = sum(sizes_k[:fold])
end = start + sizes_k[fold]
write("kfold4_1.val", perm42[start:end])
write("kfold4_1.train", perm42[:start] + perm42[end:])
