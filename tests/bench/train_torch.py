#!/usr/bin/python3
"""PyTorch side of tests/bench/train: the same distilgpt2-shaped model in
the Hugging Face GPT-2 math (Conv1D layout, pre-LN, gelu_new, causal +
padding mask, tied head), one training step = forward + backward +
clip_grad_norm_ + AdamW, or an eval forward.
usage: train_torch.py [--model NAME] B T DROPOUT THREADS STEPS MODE(train|trainpad|eval)
--model smollm2-135m | qwen3-0.6b: instead, that Llama-family shape
(tests/ref/llama_ref.py PRESETS: the HF LlamaForCausalLM / Qwen3ForCausalLM
math of tests/ref/llama_ref.py, eager attention, random N(0, 0.02) init,
tied), the Trainer's two AdamW groups (>= 2-D decays); DROPOUT must be 0
(these configs have attention_dropout 0 and no other dropout).
Prints "ms_per_step MEDIAN min MIN blas BLAS rss_mb PEAK_RSS_MB"."""
import math
import os
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# --autocast-bf16 (anywhere on the command line): the forward and the loss
# under torch.autocast("cpu", dtype=torch.bfloat16), as
# TrainingArguments(bf16=True) does on a CPU (docs/hf-reference.md §19).
AUTOCAST_BF16 = "--autocast-bf16" in sys.argv
if AUTOCAST_BF16:
    sys.argv.remove("--autocast-bf16")


def autocast():
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=AUTOCAST_BF16)


class Conv1D(nn.Module):
    def __init__(self, nf, nx, std=0.02):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(nx, nf) * std)
        self.bias = nn.Parameter(torch.zeros(nf))

    def forward(self, x):
        size_out = x.size()[:-1] + (self.weight.size(-1),)
        return torch.addmm(self.bias, x.view(-1, x.size(-1)),
                           self.weight).view(size_out)


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) *
                                       (x + 0.044715 * torch.pow(x, 3.0))))


class Block(nn.Module):
    def __init__(self, C, NH, L, p):
        super().__init__()
        self.NH, self.p = NH, p
        self.ln_1 = nn.LayerNorm(C, eps=1e-5)
        self.c_attn = Conv1D(3 * C, C)
        self.c_proj = Conv1D(C, C, 0.02 / math.sqrt(2 * L))
        self.ln_2 = nn.LayerNorm(C, eps=1e-5)
        self.c_fc = Conv1D(4 * C, C)
        self.mlp_proj = Conv1D(C, 4 * C, 0.02 / math.sqrt(2 * L))
        self.attn_dropout = nn.Dropout(p)
        self.resid_dropout = nn.Dropout(p)
        self.mlp_dropout = nn.Dropout(p)

    def forward(self, h, causal, ext):
        B, T, C = h.shape
        hs = C // self.NH
        a = self.ln_1(h)
        q, k, v = self.c_attn(a).split(C, dim=2)
        q, k, v = [x.view(B, T, self.NH, hs).permute(0, 2, 1, 3)
                   for x in (q, k, v)]
        w = torch.matmul(q, k.transpose(-1, -2))
        w = w / torch.full([], v.size(-1) ** 0.5, dtype=w.dtype)
        fmin = torch.finfo(w.dtype).min
        w = torch.where(causal, w, torch.full([], fmin, dtype=w.dtype))
        w = w + ext
        w = self.attn_dropout(torch.softmax(w, dim=-1))
        o = torch.matmul(w, v).permute(0, 2, 1, 3).contiguous().view(B, T, C)
        h = h + self.resid_dropout(self.c_proj(o))
        m = self.ln_2(h)
        return h + self.mlp_dropout(self.mlp_proj(gelu_new(self.c_fc(m))))


class GPT2(nn.Module):
    def __init__(self, L=6, C=768, NH=12, V=50257, P=1024, p=0.1):
        super().__init__()
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Embedding(P, C)
        nn.init.normal_(self.wte.weight, std=0.02)
        nn.init.normal_(self.wpe.weight, std=0.02)
        self.drop = nn.Dropout(p)
        self.h = nn.ModuleList([Block(C, NH, L, p) for _ in range(L)])
        self.ln_f = nn.LayerNorm(C, eps=1e-5)

    def forward(self, ids, mask, labels):
        B, T = ids.shape
        h = self.drop(self.wte(ids) + self.wpe(torch.arange(T)))
        causal = torch.tril(torch.ones(T, T, dtype=torch.bool)).view(1, 1, T, T)
        ext = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for blk in self.h:
            h = blk(h, causal, ext)
        logits = F.linear(self.ln_f(h), self.wte.weight)
        sl = logits[..., :-1, :].contiguous()
        return F.cross_entropy(sl.view(-1, sl.size(-1)),
                               labels[..., 1:].contiguous().view(-1))


class Llama(nn.Module):
    """A tests/ref/llama_ref.py model as a module (its forward, its init)."""

    def __init__(self, name):
        super().__init__()
        sys.path.insert(0, os.path.join(os.path.dirname(
            os.path.dirname(os.path.abspath(__file__))), "ref"))
        import llama_ref
        self.ref = llama_ref
        self.a = llama_ref.Arch(llama_ref.PRESETS[name])
        self.names = [n for n, _ in llama_ref.param_shapes(self.a)]
        self.w = nn.ParameterList(
            [nn.Parameter(t) for t in llama_ref.hf_init(self.a).values()])

    def forward(self, ids, mask, labels):
        P = dict(zip(self.names, self.w))
        logits = self.ref.forward(self.a, P, ids, mask)
        s, n = self.ref.shifted_ce_sum(logits, labels)
        return s / n


def main():
    argv = sys.argv[1:]
    name = None
    if argv[:1] == ["--model"]:
        name, argv = argv[1], argv[2:]
    B, T, p, threads, steps, mode = (int(argv[0]), int(argv[1]),
                                     float(argv[2]), int(argv[3]),
                                     int(argv[4]), argv[5])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    if name is not None:
        if p != 0:
            sys.exit("train_torch.py: --model %s: DROPOUT must be 0" % name)
        model = Llama(name)
    else:
        model = GPT2(p=p)
    V = 50257 if name is None else model.a.V
    names = [n for n, _ in model.named_parameters()]
    if name:  # these families: every >= 2-D tensor decays, no 1-D one
        nd = lambda n, q: q.dim() < 2  # noqa: E731
    else:
        nd = lambda n, q: n.endswith("bias") or "ln_" in n  # noqa: E731
    decay = [q for n, q in model.named_parameters() if not nd(n, q)]
    nodecay = [q for n, q in model.named_parameters() if nd(n, q)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": nodecay, "weight_decay": 0.0}], lr=5e-5)
    ids = torch.randint(0, V, (B, T))
    mask = torch.ones(B, T, dtype=torch.long)
    labels = ids.clone()
    if mode == "trainpad":  # second half of every row is padding
        mask[:, T // 2:] = 0
        labels[:, T // 2:] = -100
    times = []
    model.train(mode != "eval")
    for k in range(steps + 1):
        t0 = time.perf_counter()
        if mode != "eval":
            with autocast():
                loss = model(ids, mask, labels)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad()
        else:
            with torch.no_grad(), autocast():
                loss = model(ids, mask, ids)
        if k > 0:
            times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    del names
    print("ms_per_step %.1f min %.1f blas %s rss_mb %.0f" % (
        times[len(times) // 2], times[0],
        "openblas" if "openblas" in open("/proc/self/maps").read() else "?",
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0))


if __name__ == "__main__":
    main()
