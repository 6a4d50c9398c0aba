#!/usr/bin/env python3
"""stcmp.py A.safetensors B.safetensors REL: the same F32 tensors, each
within REL of the other relative to the tensor's largest magnitude
(max |a - b| <= REL * max |a|).  Prints the worst ratio; exits 1 on a
difference.  Python's standard library only."""
import array, json, struct, sys


def load(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        head = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in head.items():
        if k == "__metadata__":
            continue
        if v["dtype"] != "F32":
            sys.exit("%s: %s is %s, not F32" % (path, k, v["dtype"]))
        a = array.array("f")
        a.frombytes(data[v["data_offsets"][0]:v["data_offsets"][1]])
        if sys.byteorder != "little":
            a.byteswap()
        out[k] = a
    return out


a, b, rel = load(sys.argv[1]), load(sys.argv[2]), float(sys.argv[3])
if sorted(a) != sorted(b):
    sys.exit("tensor names differ")
worst, bad = 0.0, []
for k in sorted(a):
    x, y = a[k], b[k]
    if len(x) != len(y):
        sys.exit("%s: sizes differ" % k)
    scale = max(abs(v) for v in x) or 1e-30
    d = max(abs(p - q) for p, q in zip(x, y)) / scale
    worst = max(worst, d)
    if d > rel:
        bad.append("%s: max |a-b| / max |a| = %.3g" % (k, d))
print("worst relative difference %.3g over %d tensors" % (worst, len(a)))
for m in bad:
    print(m)
sys.exit(1 if bad else 0)
