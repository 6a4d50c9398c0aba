#!/usr/bin/env python3
"""best_ref.py METRICS.jsonl RUN_DIR OPTIONS.json: the decisions of
transformers' Trainer (v4.46) about the best model, replayed on the eval
losses ft-train logged, and compared with what ft-train did.

OPTIONS: eval_steps, save_steps, max_steps, save_total_limit, metric
(e.g. "eval_loss" or "eval_NAME_loss"), greater_is_better, patience (0:
no EarlyStoppingCallback), threshold.  A transcription of:
  Trainer._maybe_log_save_evaluate   evaluate (callbacks' on_evaluate),
                                     then _save_checkpoint(metrics)
  Trainer._save_checkpoint           best_metric / best_model_checkpoint
                                     (metrics of this step only), then
                                     _rotate_checkpoints
  Trainer._sorted_checkpoints        the best moves to index len - 2
  Trainer._rotate_checkpoints        save_total_limit 1 keeps 2 while the
                                     best is not the newest
  EarlyStoppingCallback              check_metric_value, patience counter
  Trainer.train (the end)            save_total_limit 1: only the best
  DefaultFlowCallback                save at the last step
Checks RUN_DIR/trainer_state.json (best_metric, best_model_checkpoint,
global_step, the callback's counter) and the checkpoint folders left.
Python's standard library only; exits 1 on a difference."""
import json, os, re, sys

metrics, run, opts = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3]))
name = opts["metric"]
if not name.startswith("eval_"):
    name = "eval_" + name
ev = {}
for line in open(metrics):
    e = json.loads(line)
    if name in e:
        ev[e["step"]] = e[name]

greater = opts.get("greater_is_better", False)
better = (lambda a, b: a > b) if greater else (lambda a, b: a < b)
patience, threshold = opts.get("patience", 0), opts.get("threshold", 0.0)
limit = opts["save_total_limit"]
best_metric = best_ckpt = None
counter, stop, ckpts, step = 0, False, [], 0


def sorted_ckpts():
    s = sorted(ckpts)
    if best_ckpt is not None and best_ckpt in s:
        i = s.index(best_ckpt)
        for j in range(i, len(s) - 2):
            s[j], s[j + 1] = s[j + 1], s[j]
    return s


for step in range(1, opts["max_steps"] + 1):
    m = None
    if opts["eval_steps"] > 0 and step % opts["eval_steps"] == 0:
        m = ev[step]
        if patience > 0:  # EarlyStoppingCallback.on_evaluate
            if best_metric is None or (better(m, best_metric) and
                                       abs(m - best_metric) > threshold):
                counter = 0
            else:
                counter += 1
            if counter >= patience:
                stop = True
    save = (opts["save_steps"] > 0 and step % opts["save_steps"] == 0) or \
        step == opts["max_steps"]
    if save:
        ckpts.append(step)
        if m is not None and (best_metric is None or best_ckpt is None or
                              better(m, best_metric)):
            best_metric, best_ckpt = m, step
        if limit > 0:
            s = sorted_ckpts()
            keep = limit
            if best_ckpt is not None and limit == 1 and s[-1] != best_ckpt:
                keep = 2
            for c in s[:max(0, len(s) - keep)]:
                ckpts.remove(c)
    if stop:
        break
if best_ckpt is not None and limit == 1:
    ckpts = [c for c in ckpts if c == best_ckpt]

st = json.load(open(os.path.join(run, "trainer_state.json")))
got_ckpts = sorted(int(d.split("-")[1]) for d in os.listdir(run)
                   if re.fullmatch(r"checkpoint-[0-9]+", d))
bad = []
if st["global_step"] != step:
    bad.append("global_step %s, the Trainer's %s" % (st["global_step"], step))
if st["best_metric"] != best_metric:
    bad.append("best_metric %s, the Trainer's %s" % (st["best_metric"],
                                                    best_metric))
want = None if best_ckpt is None else os.path.join(run, "checkpoint-%d" %
                                                   best_ckpt)
if st["best_model_checkpoint"] != want:
    bad.append("best_model_checkpoint %s, the Trainer's %s" %
               (st["best_model_checkpoint"], want))
if got_ckpts != sorted(ckpts):
    bad.append("checkpoints %s, the Trainer's %s" % (got_ckpts, sorted(ckpts)))
if patience > 0:
    es = st["stateful_callbacks"].get("EarlyStoppingCallback")
    if es is None or es["attributes"]["early_stopping_patience_counter"] != \
            counter or es["args"]["early_stopping_patience"] != patience:
        bad.append("EarlyStoppingCallback state %s, the Trainer's counter %d"
                   % (es, counter))
for b in bad:
    print("best_ref: %s: %s" % (run, b), file=sys.stderr)
print("best_ref: %s: step %d, best %s at %s, checkpoints %s" %
      (run, step, best_metric, best_ckpt, sorted(ckpts)))
sys.exit(1 if bad else 0)
