#!/usr/bin/python3
"""Reference fixtures for ft-train's Trainer bookkeeping (hf-reference §12).

Run with Debian's /usr/bin/python3 (torch 1.13, numpy):
    /usr/bin/python3 tests/ref/trainer_ref.py
Writes tests/fixtures/train/:
  order.txt          epoch orders: torch.randperm(n) from a generator seeded
                     seed + epoch (accelerate's SeedableRandomSampler), one
                     line "seed epoch n: i0 i1 ..."
  plan.txt           "n bs ga epochs max_steps: batches_per_epoch
                     updates_per_epoch max_steps num_epochs", the Trainer's
                     sizing arithmetic (transformers trainer.py
                     _inner_training_loop), reproduced directly
  pyfloat.txt        "<float.hex()> <repr>" and "round <hex> <nd> <repr>"
  trainer_state.json json.dumps(state, indent=2, sort_keys=True) + "\\n" of
                     a simulated run (tests/unit/test_trainer.c rebuilds it)

transformers is not installed here, so the arithmetic is written out from the
Trainer's source as summarised in hf-reference §12.
"""
import json
import math
import os

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                   "fixtures", "train")


def epoch_order(seed, epoch, n):
    g = torch.Generator()
    g.manual_seed(seed + epoch)
    return torch.randperm(n, generator=g).tolist()


def plan(n, bs, ga, epochs, max_steps):
    batches = math.ceil(n / bs)                     # len(train_dataloader)
    upe = max(batches // ga, 1)                     # num_update_steps_per_epoch
    if max_steps > 0:
        total = max_steps
        num_epochs = max_steps // upe + int(max_steps % upe > 0)
    else:
        total = math.ceil(epochs * upe)
        num_epochs = math.ceil(epochs)
    return batches, upe, total, num_epochs


def lr_lambda(s, W, S):                             # get_linear_schedule_with_warmup
    if s < W:
        return float(s) / float(max(1, W))
    return max(0.0, float(S - s) / float(max(1, S - W)))


def f32(x):
    return np.float32(x).item()


def simulated_state():
    """A run of 10 samples, batch 4, 2 epochs, warmup 2, logging every 2
    steps, eval every 3; per-step losses 3/k and grad norms 1 + k/10 in
    float32.  Mirrored in test_trainer.c."""
    n, bs, ga, epochs = 10, 4, 1, 2
    batches, upe, S, num_epochs = plan(n, bs, ga, epochs, -1)
    W, base = 2, 5e-5
    log = []
    tr, last = 0.0, 0
    total = 0.0
    for k in range(1, S + 1):
        e, b = (k - 1) // upe, (k - 1) % upe
        epoch = e + (b + 1) / batches
        loss = f32(3.0 / k)
        tr += loss
        total += loss
        lr = base * lr_lambda(k - 1, W, S)
        if k % 2 == 0:
            log.append({"loss": round(tr / (k - last), 4),
                        "grad_norm": f32(1 + k / 10),
                        "learning_rate": lr, "epoch": epoch, "step": k})
            tr, last = 0.0, k
        if k % 3 == 0:
            log.append({"eval_loss": f32(2.5 - k / 7),
                        "eval_runtime": round(0.123456 * k, 4),
                        "eval_samples_per_second": round(81.0 / k, 3),
                        "eval_steps_per_second": round(24.3 / k, 3),
                        "epoch": epoch, "step": k})
    log.append({"train_runtime": round(12.345678, 4),
                "train_samples_per_second": round(20 / 12.345678, 3),
                "train_steps_per_second": round(S / 12.345678, 3),
                "total_flos": 123456.0, "train_loss": total / S,
                "epoch": float(num_epochs), "step": S})
    return {
        "best_metric": None, "best_model_checkpoint": None,
        "epoch": float(num_epochs), "eval_steps": 3, "global_step": S,
        "is_hyper_param_search": False, "is_local_process_zero": True,
        "is_world_process_zero": True, "log_history": log,
        "logging_steps": 2, "max_steps": S, "num_input_tokens_seen": 0,
        "num_train_epochs": num_epochs, "save_steps": 3,
        "stateful_callbacks": {"TrainerControl": {
            "args": {"should_epoch_stop": False, "should_evaluate": False,
                     "should_log": False, "should_save": True,
                     "should_training_stop": False},
            "attributes": {}}},
        "total_flos": 123456.0, "train_batch_size": bs,
        "trial_name": None, "trial_params": None,
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "order.txt"), "w") as f:
        for seed, n in [(42, 10), (42, 138), (0, 7), (1234, 1000), (42, 1)]:
            for e in range(3):
                f.write("%d %d %d: %s\n" % (seed, e, n, " ".join(
                    str(i) for i in epoch_order(seed, e, n))))
    with open(os.path.join(OUT, "plan.txt"), "w") as f:
        for args in [(138, 4, 1, 5, -1), (10, 4, 1, 2, -1),
                     (10, 4, 2, 3, -1), (10, 4, 5, 1, -1),
                     (138, 4, 1, 2.5, -1), (138, 4, 1, 5, 100),
                     (7, 8, 1, 1, -1), (138, 4, 3, 5, 47)]:
            f.write("%d %d %d %r %d: %d %d %d %d\n" % (args + plan(*args)))
    vals = [0.0, 1.0, 0.1, 5e-7, 5e-05, 4.933333333333333e-05, 1e-4,
            123456.0, 1e16, 1.5e16, 1e22, 3.4567, 2.0 / 3, 1e-5, 12.5,
            100.0, f32(0.8734567), f32(3.0 / 7), 6.666666666666667e-07,
            -2.5, 1234567890123456.0, 0.5e-300]
    with open(os.path.join(OUT, "pyfloat.txt"), "w") as f:
        for v in vals:
            f.write("%s %s\n" % (v.hex(), repr(v)))
        for v, nd in [(3.45675, 4), (2.00005, 4), (0.125, 2), (0.375, 2),
                      (1.23456789, 3), (9.99995, 4), (1 / 3, 4)]:
            f.write("round %s %d %s\n" % (v.hex(), nd, repr(round(v, nd))))
    with open(os.path.join(OUT, "trainer_state.json"), "w") as f:
        f.write(json.dumps(simulated_state(), indent=2, sort_keys=True)
                + "\n")


if __name__ == "__main__":
    main()
