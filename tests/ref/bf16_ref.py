#!/usr/bin/python3
"""Reference losses for ft-train --bf16 (docs/hf-reference.md §19).

Run with Debian's /usr/bin/python3 (torch 1.13):
    /usr/bin/python3 tests/ref/bf16_ref.py
Trains the tiny GPT-2 of tests/fixtures/train/e2e (trainer_ref.py's model
and documents, the math of gpt2_ref.py) for 30 optimizer steps as the
Trainer does, once in fp32 and once with the forward and loss under
torch.autocast("cpu", dtype=torch.bfloat16) (TrainingArguments(bf16=True)
on a CPU), and writes tests/fixtures/train/bf16/{fp32,bf16}.jsonl: one
{"step", "loss"} per step.  The same for a tiny Llama with grouped-query
attention (the math of llama_ref.py) on the same documents: its model in
tests/fixtures/train/bf16/llama/, losses llama-{fp32,bf16}.jsonl.
And LoRA on the tiny GPT-2 (the math of lora_ref.py, PEFT's
y = base(x) + lora_B(lora_A(x)) * s: under autocast lora_A and lora_B,
nn.Linear layers, run in bf16 like the base's products): rank 4, alpha 8,
targets c_attn, c_proj, c_fc, an initial adapter with random A and B
written as PEFT's files to tests/fixtures/train/bf16/lora/, the base
frozen, AdamW and clipping over the adapters; losses
lora-{fp32,bf16}.jsonl.
tests/cli/train-bf16.sh runs ft-train with and without --bf16 on the same
models and data (bf16.args) and compares.
"""
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gpt2_ref      # noqa: E402
import llama_ref     # noqa: E402  (read_safetensors)
import lora_ref      # noqa: E402
import trainer_ref   # noqa: E402

E2E = os.path.join(HERE, "..", "fixtures", "train", "e2e")
OUT = os.path.join(HERE, "..", "fixtures", "train", "bf16")
RUN = dict(bs=4, steps=30, W=2, lr=1e-2, clip=1.0)


def docs(name):
    with open(os.path.join(E2E, name)) as f:
        return [[int(x) for x in l.split()][:trainer_ref.E2E_MAXLEN]
                for l in f if l.strip()]


LLAMA = os.path.join(OUT, "llama")


def make_llama():
    """A 2-layer Llama, 4 query and 2 key/value heads of 8, SwiGLU 48,
    the e2e vocabulary (50, eos 49), tied; trainer_ref's init scale."""
    V = trainer_ref.E2E_CFG["vocab_size"]
    cfg = llama_ref.make_config("llama", 32, 2, 4, 2, 48, V, max_pos=32,
                                bos_token_id=V - 1, eos_token_id=V - 1)
    a = llama_ref.Arch(cfg)
    P = llama_ref.init_params(a, torch.Generator().manual_seed(2025))
    os.makedirs(LLAMA, exist_ok=True)
    llama_ref.write_json(os.path.join(LLAMA, "config.json"), cfg)
    llama_ref.write_safetensors(os.path.join(LLAMA, "model.safetensors"), P,
                                {"format": "pt"})
    return a


def model(fam):
    """(parameters, names, forward, decayed names) of a family's model."""
    if fam == "llama":
        a = make_llama()
        st, _ = llama_ref.read_safetensors(os.path.join(LLAMA,
                                                        "model.safetensors"))
        names = sorted(st)
        decay = llama_ref.decay_split(names)[0]
        return ({n: st[n].clone() for n in names}, names,
                lambda P, ids, mask: llama_ref.forward(a, P, ids, mask), decay)
    c = dict(trainer_ref.E2E_CFG)
    st, _ = llama_ref.read_safetensors(os.path.join(E2E, "model.safetensors"))
    names = gpt2_ref.param_names(c)
    decay = [n for n in names if not n.endswith("bias") and "ln_" not in n]
    return ({n: st["transformer." + n].clone() for n in names}, names,
            lambda P, ids, mask: gpt2_ref.forward(c, P, ids, mask), decay)


LORA = os.path.join(OUT, "lora")
LORA_CASE = dict(arch="gpt2", r=4, alpha=8, rslora=False,
                 targets=["c_attn", "c_fc", "c_proj"])


def make_lora():
    """{module: (A, B)} for the tiny GPT-2 (lora_ref's init, B random so
    that A's gradients are nonzero from the first step), written as PEFT's
    adapter files."""
    c = trainer_ref.E2E_CFG
    g = torch.Generator().manual_seed(20261213)
    ad, named = {}, {}
    for i in range(c["n_layer"]):
        for m in lora_ref.GPT2_MODULES:
            if not lora_ref.matches(m, LORA_CASE["targets"]):
                continue
            w = "h.%d.%s" % (i, m)
            C = c["n_embd"]
            fin, fout = {"attn.c_attn": (C, 3 * C), "attn.c_proj": (C, C),
                         "mlp.c_fc": (C, 4 * C), "mlp.c_proj": (4 * C, C)}[m]
            bound = 1.0 / fin ** 0.5
            A = (torch.rand(LORA_CASE["r"], fin, generator=g) * 2 - 1) * bound
            B = 0.2 * torch.randn(fout, LORA_CASE["r"], generator=g)
            ad[w] = (A.float(), B.float())
            pre = "base_model.model.transformer.%s.lora_" % w
            named[pre + "A.weight"] = ad[w][0]
            named[pre + "B.weight"] = ad[w][1]
    os.makedirs(LORA, exist_ok=True)
    llama_ref.write_json(os.path.join(LORA, "adapter_config.json"),
                         lora_ref.adapter_config(LORA_CASE,
                                                 "tests/fixtures/train/e2e"))
    llama_ref.write_safetensors(os.path.join(LORA, "adapter_model.safetensors"),
                                named, {"format": "pt"})
    return ad


def train(fam, bf16, lora=False):
    eos = trainer_ref.E2E_CFG["vocab_size"] - 1
    P, names, fwd, dn = model(fam)
    P = {n: P[n].float().requires_grad_(not lora) for n in names}
    decay = [P[n] for n in names if n in dn]
    nodecay = [P[n] for n in names if n not in dn]
    if lora:
        ad = make_lora()
        hook = lora_ref.lora_hook(ad, lora_ref.scaling(LORA_CASE))
        fwd = lambda P, ids, mask: gpt2_ref.forward(  # noqa: E731
            trainer_ref.E2E_CFG, P, ids, mask, hook)
        decay = [t.requires_grad_(True) for ab in ad.values() for t in ab]
        nodecay = []
        clip = decay
    else:
        clip = [P[x] for x in names]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": nodecay, "weight_decay": 0.0}],
                            lr=RUN["lr"], betas=(0.9, 0.999), eps=1e-8)
    tr = docs("train.txt")
    n, S = len(tr), RUN["steps"]
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: trainer_ref.sched_lambda("linear", s, RUN["W"], S))
    out, step, e = [], 0, 0
    while step < S:
        order = trainer_ref.epoch_order(42, e, n)
        for i in range(0, n, RUN["bs"]):
            if step >= S:
                break
            ids, mask, labels = trainer_ref.e2e_batch(
                [tr[j] for j in order[i:i + RUN["bs"]]], eos)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                s, cnt = gpt2_ref.shifted_ce_sum(fwd(P, ids, mask), labels)
            (s.float() / cnt).backward()
            torch.nn.utils.clip_grad_norm_(clip, RUN["clip"])
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=False)
            step += 1
            out.append({"step": step, "loss": float(s) / cnt})
        e += 1
    return out


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    for fam, pre in (("gpt2", ""), ("llama", "llama-")):
        for name, bf16 in (("fp32", False), ("bf16", True)):
            out = train(fam, bf16)
            with open(os.path.join(OUT, pre + name + ".jsonl"), "w") as f:
                for r in out:
                    f.write(json.dumps(r, sort_keys=True) + "\n")
            print(fam, name, " ".join("%.4f" % r["loss"] for r in out))
    for name, bf16 in (("fp32", False), ("bf16", True)):
        out = train("gpt2", bf16, lora=True)
        with open(os.path.join(OUT, "lora-" + name + ".jsonl"), "w") as f:
            for r in out:
                f.write(json.dumps(r, sort_keys=True) + "\n")
        print("gpt2 lora", name, " ".join("%.4f" % r["loss"] for r in out))
    with open(os.path.join(OUT, "bf16.args"), "w") as f:
        f.write("--batch-size %d --max-steps %d --warmup-steps %d --lr %g "
                "--max-grad-norm %g --schedule linear --eval-steps 0\n" %
                (RUN["bs"], RUN["steps"], RUN["W"], RUN["lr"], RUN["clip"]))


if __name__ == "__main__":
    main()
