#!/usr/bin/env python3
"""expect.py EXPECT.jsonl METRICS.jsonl: ft-train's metrics.jsonl against a
reference run of tests/ref/trainer_ref.py (per-step loss to the logged 4
decimals, grad_norm, learning_rate, epoch, eval_loss, train_loss).  Exits 1
with the differences."""
import json, sys
exp = [json.loads(l) for l in open(sys.argv[1])]
got = [json.loads(l) for l in open(sys.argv[2])]
train = {g["step"]: g for g in got if "loss" in g}
ev = {g["step"]: g for g in got if "eval_loss" in g}
end = [g for g in got if "train_loss" in g]
def near(a, b, rel):
    return abs(a - b) <= rel * max(abs(b), 1e-30)
bad = []
for e in exp:
    g = train.get(e["step"])
    if g is None:
        bad.append("step %d not logged" % e["step"]); continue
    if abs(g["loss"] - round(e["loss"], 4)) > 1.01e-4: bad.append(("loss", e, g))
    if not near(g["grad_norm"], e["grad_norm"], 1e-4): bad.append(("norm", e, g))
    if not near(g["learning_rate"], e["learning_rate"], 1e-9): bad.append(("lr", e, g))
    if g["epoch"] != e["epoch"]: bad.append(("epoch", e, g))
    if "eval_loss" in e and not near(ev[e["step"]]["eval_loss"], e["eval_loss"], 1e-5):
        bad.append(("eval", e, ev[e["step"]]))
if len(ev) != sum("eval_loss" in e for e in exp) or len(train) != len(exp):
    bad.append("log entry count")
tl = sum(e["loss"] for e in exp) / len(exp)
if len(end) != 1 or not near(end[0]["train_loss"], tl, 1e-5):
    bad.append(("train_loss", tl, end))
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
