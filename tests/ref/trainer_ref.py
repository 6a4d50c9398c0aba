#!/usr/bin/python3
"""Reference fixtures for ft-train's Trainer bookkeeping (docs/hf-reference.md §12).

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
  e2e/               an end-to-end Trainer run of a tiny GPT-2 (dropout 0)
                     written in torch with the math of tests/ref/gpt2_ref.py
                     (the engine's reference): config.json,
                     model.safetensors, train.txt and val.txt (one document
                     of ids per line; tests/cli/train.sh makes token files
                     of them) and RUN.expect.jsonl, the per-step loss,
                     grad_norm, learning_rate, epoch and the eval_loss of
                     each run RUN (its options are in RUN.args; d1 is
                     2 processes x batch 2: mpirun -np 2, tests/cli/mpi.sh)

transformers is not installed here, so the arithmetic is written out from the
Trainer's source as summarised in docs/hf-reference.md §12.
"""
import json
import math
import os
import sys

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


E2E_CFG = dict(n_layer=2, n_embd=16, n_head=2, n_positions=32, vocab_size=50,
               n_inner=None, tied=True)
E2E_RUNS = [
    # name, batch, accumulation, epochs, max_steps, schedule, warmup, lr,
    # clip, mask_eos, shuffle, eval_steps, eval_batch
    dict(name="r1", bs=4, ga=1, epochs=2, max_steps=-1, sched="linear", W=2,
         lr=1e-2, clip=1.0, mask_eos=False, shuffle=True, eval_steps=3,
         ebs=4),
    dict(name="r2", bs=3, ga=2, epochs=1, max_steps=5, sched="cosine", W=1,
         lr=5e-3, clip=0.5, mask_eos=True, shuffle=True, eval_steps=2,
         ebs=2),
    dict(name="r3", bs=5, ga=1, epochs=1, max_steps=-1,
         sched="constant_with_warmup", W=1, lr=2e-2, clip=0.0, mask_eos=False, shuffle=False,
         eval_steps=1, ebs=3),
    # data parallel (docs/hf-reference.md §20): 2 processes x batch 2, the shards
    # of accelerate's BatchSamplerShard (even_batches: the last round is
    # filled from the start), the loss over the targets of both processes
    dict(name="d1", bs=2, ga=1, epochs=2, max_steps=-1, sched="linear", W=2,
         lr=1e-2, clip=1.0, mask_eos=False, shuffle=True, eval_steps=3,
         ebs=4, nproc=2),
]
E2E_MAXLEN = 12


def shard_batches(order, bs, N, r):
    """accelerate's BatchSamplerShard._iter_with_no_split (split_batches
    False, even_batches True, drop_last False) for process r of N."""
    out, initial, to_yield = [], [], []
    batches = [order[i:i + bs] for i in range(0, len(order), bs)]
    idx, batch = 0, []
    for idx, batch in enumerate(batches):
        if idx < N:
            initial += batch
        if idx % N == r:
            to_yield = batch
        if idx % N == N - 1 and len(batch) == bs:
            out.append(to_yield)
            to_yield = []
    if len(to_yield) == bs:
        out.append(to_yield)
    while len(initial) < bs:
        initial += initial
    if len(batch) == bs:
        batch = []
        idx += 1
    cycle = 0
    while idx % N != 0 or len(batch) > 0:
        end = cycle + bs - len(batch)
        batch = batch + initial[cycle:end]
        if idx % N == r:
            out.append(batch)
        cycle = end
        batch = []
        idx += 1
    return out


def sched_lambda(kind, s, W, S):
    # transformers' get_scheduler: "constant" is get_constant_schedule,
    # which takes no warmup; the others warm up linearly over W steps
    if kind == "constant":
        return 1.0
    if s < W:
        return float(s) / float(max(1, W))
    if kind == "linear":
        return max(0.0, float(S - s) / float(max(1, S - W)))
    if kind == "cosine":
        p = float(s - W) / float(max(1, S - W))
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * p)))
    return 1.0


def e2e_batch(samples, eos, mask_eos=False):
    """Right-padded ids, mask and labels (-100 on padding; on eos too
    with mask_eos) of a list of documents, as the collator makes them."""
    T = max(len(x) for x in samples)
    ids = torch.full((len(samples), T), eos, dtype=torch.int64)
    mask = torch.zeros(len(samples), T, dtype=torch.int64)
    for b, x in enumerate(samples):
        ids[b, :len(x)] = torch.tensor(x)
        mask[b, :len(x)] = 1
    labels = ids.clone()
    labels[mask == 0] = -100
    if mask_eos:
        labels[ids == eos] = -100
    return ids, mask, labels


def e2e(gr):
    c = dict(E2E_CFG)
    V, eos = c["vocab_size"], c["vocab_size"] - 1
    d = os.path.join(OUT, "e2e")
    os.makedirs(d, exist_ok=True)
    g = torch.Generator().manual_seed(2024)
    cfg = {"model_type": "gpt2", "activation_function": "gelu_new",
           "n_layer": c["n_layer"], "n_embd": c["n_embd"],
           "n_head": c["n_head"], "n_positions": c["n_positions"],
           "vocab_size": V, "n_inner": None, "layer_norm_epsilon": 1e-5,
           "embd_pdrop": 0.1, "attn_pdrop": 0.1, "resid_pdrop": 0.1,
           "bos_token_id": eos, "eos_token_id": eos}
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    P0 = gr.init_params(c, g)
    names = gr.param_names(c)
    gr.write_safetensors(os.path.join(d, "model.safetensors"),
                         {"transformer." + n: P0[n].detach().clone()
                          for n in names}, {"format": "pt"})

    def docs(n):
        out = []
        for _ in range(n):
            k = int(torch.randint(1, 18, (1,), generator=g))
            ids = torch.randint(0, V - 1, (k,), generator=g).tolist()
            out.append(ids + [eos])
        return out
    train, val = docs(11), docs(5)
    for name, dd in (("train.txt", train), ("val.txt", val)):
        with open(os.path.join(d, name), "w") as f:
            for doc in dd:
                f.write(" ".join(map(str, doc)) + "\n")
    train = [x[:E2E_MAXLEN] for x in train]
    val = [x[:E2E_MAXLEN] for x in val]

    def batch(samples, mask_eos):
        return e2e_batch(samples, eos, mask_eos)

    for r in E2E_RUNS:
        P = {n: P0[n].detach().clone().requires_grad_(True) for n in names}
        decay = [P[n] for n in names
                 if not n.endswith("bias") and "ln_" not in n]
        nodecay = [P[n] for n in names if n.endswith("bias") or "ln_" in n]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                                 {"params": nodecay, "weight_decay": 0.0}],
                                lr=r["lr"], betas=(0.9, 0.999), eps=1e-8)
        n = len(train)
        N = r.get("nproc", 1)
        # the per-process dataloader's length sizes the run
        nb, upe, S, num_epochs = plan(n, r["bs"] * N, r["ga"], r["epochs"],
                                      r["max_steps"])
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: sched_lambda(r["sched"], s, r["W"], S))
        out, step = [], 0
        for e in range(num_epochs):
            order = epoch_order(42, e, n) if r["shuffle"] else list(range(n))
            if N == 1:
                bl = [[order[i:i + r["bs"]] for i in range(0, n, r["bs"])]]
            else:
                bl = [shard_batches(order, r["bs"], N, p) for p in range(N)]
            for j in range(0, nb, r["ga"]):
                if step >= S:
                    break
                # every process's micro-batches; summing their gradients
                # into one .grad is the all-reduce
                mb = [batch([train[i] for i in b], r["mask_eos"])
                      for p in range(N) for b in bl[p][j:j + r["ga"]]]
                total = sum(int((lb[..., 1:] != -100).sum())
                            for _, _, lb in mb)
                loss = 0.0
                for ids, mask, labels in mb:
                    s, _ = gr.shifted_ce_sum(gr.forward(c, P, ids, mask),
                                             labels)
                    (s / total).backward()
                    loss += float(s) / total
                lr = opt.param_groups[0]["lr"]
                params = [P[x] for x in names]
                if r["clip"] > 0:
                    norm = float(torch.nn.utils.clip_grad_norm_(params,
                                                                r["clip"]))
                else:
                    norm = float(torch.norm(torch.stack(
                        [torch.norm(p.grad.detach(), 2) for p in params]), 2))
                opt.step()
                sched.step()
                opt.zero_grad(set_to_none=False)
                step += 1
                blast = min(j + r["ga"], nb) - 1
                rec = {"step": step, "epoch": e + (blast + 1) / nb,
                       "loss": loss, "grad_norm": norm, "learning_rate": lr}
                if step % r["eval_steps"] == 0:
                    with torch.no_grad():
                        ls = []
                        for i in range(0, len(val), r["ebs"]):
                            ids, mask, labels = batch(val[i:i + r["ebs"]],
                                                      r["mask_eos"])
                            s, cnt = gr.shifted_ce_sum(
                                gr.forward(c, P, ids, mask), labels)
                            ls.append(float(s / cnt))
                        rec["eval_loss"] = sum(ls) / len(ls)
                out.append(rec)
        with open(os.path.join(d, r["name"] + ".expect.jsonl"), "w") as f:
            for rec in out:
                f.write(json.dumps(rec, sort_keys=True) + "\n")
        args = ["--batch-size", r["bs"], "--grad-accum", r["ga"],
                "--epochs", r["epochs"], "--schedule", r["sched"],
                "--warmup-steps", r["W"], "--lr", r["lr"],
                "--max-grad-norm", r["clip"], "--eval-steps",
                r["eval_steps"], "--eval-batch-size", r["ebs"]]
        if r["max_steps"] > 0:
            args += ["--max-steps", r["max_steps"]]
        if r["mask_eos"]:
            args.append("--mask-eos")
        if not r["shuffle"]:
            args.append("--no-shuffle")
        with open(os.path.join(d, r["name"] + ".args"), "w") as f:
            f.write(" ".join(map(str, args)) + "\n")
        print("e2e %s: %d steps, losses %s" % (
            r["name"], len(out), " ".join("%.4f" % x["loss"] for x in out)))


def simulated_best_state():
    """simulated_state() as TrainerState.save_to_json writes it with
    metric_for_best_model (the best: the evaluation of step 6, saved as
    run/checkpoint-6) and an EarlyStoppingCallback(3, 0.0) whose counter
    is 1 that stopped the run.  Mirrored in test_trainer.c."""
    st = simulated_state()
    st["best_metric"] = f32(2.5 - 6 / 7)
    st["best_model_checkpoint"] = os.path.join("run", "checkpoint-6")
    sc = st["stateful_callbacks"]
    sc["EarlyStoppingCallback"] = {
        "args": {"early_stopping_patience": 3,
                 "early_stopping_threshold": 0.0},
        "attributes": {"early_stopping_patience_counter": 1}}
    sc["TrainerControl"]["args"]["should_training_stop"] = True
    return st


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    try:
        import gpt2_ref
    except ImportError:
        gpt2_ref = None
        print("gpt2_ref.py (the engine's reference) not found: e2e skipped")
    if gpt2_ref is not None:
        e2e(gpt2_ref)
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
    with open(os.path.join(OUT, "trainer_state_best.json"), "w") as f:
        f.write(json.dumps(simulated_best_state(), indent=2, sort_keys=True)
                + "\n")


if __name__ == "__main__":
    main()
