#!/usr/bin/python3
"""Reference fixtures for the GPT-2 engine (lib/gpt2.c, lib/optim.c).

Writes the Hugging Face GPT2LMHeadModel math (docs/hf-reference.md §10-§12) directly
in torch (no transformers needed): Conv1D weights [in, out], pre-LN blocks,
gelu_new, causal mask with finfo.min via torch.where, additive padding mask
(1 - mask) * finfo.min, tied (or untied) lm_head, shifted cross-entropy
with ignore_index -100, torch.optim.AdamW with two parameter groups,
clip_grad_norm_, LambdaLR linear warmup/decay.  Dropout is 0 for exactness.

Usage: /usr/bin/python3 tests/ref/gpt2_ref.py [OUTDIR]
(default tests/fixtures/gpt2).  For each case it writes OUTDIR/CASE/:
  config.json        the model config
  model.safetensors  initial weights (case a: "transformer." names plus
                     attn.bias buffers; case b: bare names plus lm_head)
  ref.safetensors    batches, logits, loss, gradients, per-step losses,
                     grad norms, learning rates and the final parameters
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)

CASES = [
    # name, config, batch, lengths per micro-batch, steps, accumulation, clip
    dict(name="a", n_layer=2, n_embd=30, n_head=3, n_positions=16,
         vocab_size=77, n_inner=None, tied=True, B=3, T=7,
         lengths=[[7, 5, 3]], steps=5, accum=1, warmup=2, max_norm=0.5,
         lr=1e-2, prefixed=True),
    dict(name="b", n_layer=3, n_embd=36, n_head=4, n_positions=24,
         vocab_size=101, n_inner=50, tied=False, B=2, T=13,
         lengths=[[13, 9], [11, 13]], steps=4, accum=2, warmup=1,
         max_norm=1.0, lr=5e-3, prefixed=False),
]

ST_DTYPE = {torch.float32: "F32", torch.int32: "I32"}


def write_safetensors(path, tensors, meta=None, dtype=None):
    """Minimal safetensors writer (docs/hf-reference.md §7 layout): F32 and I32
    tensors; dtype "BF16" or "F16" stores the F32 ones rounded to it
    (nearest even).  Replaces path atomically."""
    header = {}
    if meta:
        header["__metadata__"] = meta
    blobs = []
    off = 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        if dtype == "BF16" and t.dtype == torch.float32:
            b = t.to(torch.bfloat16).view(torch.int16).numpy().tobytes()
            dt = "BF16"
        elif dtype == "F16" and t.dtype == torch.float32:
            b = t.to(torch.float16).numpy().tobytes()
            dt = "F16"
        else:
            b = t.numpy().tobytes()
            dt = ST_DTYPE[t.dtype]
        header[name] = {"dtype": dt, "shape": list(t.shape),
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(path + ".tmp", path)


def read_safetensors(path):
    """Reader: {name: tensor} as stored (F32, I32; BF16 and F16 converted
    to F32) and the metadata."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        b, e = v["data_offsets"]
        raw = data[b:e]
        if v["dtype"] == "BF16":
            a = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view("<f4")
        elif v["dtype"] == "F16":
            a = np.frombuffer(raw, "<f2").astype(np.float32)
        else:
            a = np.frombuffer(raw, {"F32": "<f4", "I32": "<i4"}[v["dtype"]])
        out[k] = torch.from_numpy(a.reshape(v["shape"]).copy())
    return out, header.get("__metadata__", {})


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) *
                                       (x + 0.044715 * torch.pow(x, 3.0))))


def param_names(c):
    names = ["wte.weight", "wpe.weight"]
    for i in range(c["n_layer"]):
        for s in ["ln_1.weight", "ln_1.bias", "attn.c_attn.weight",
                  "attn.c_attn.bias", "attn.c_proj.weight", "attn.c_proj.bias",
                  "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias",
                  "mlp.c_proj.weight", "mlp.c_proj.bias"]:
            names.append("h.%d.%s" % (i, s))
    names += ["ln_f.weight", "ln_f.bias"]
    if not c["tied"]:
        names.append("lm_head.weight")
    return names


def init_params(c, g):
    C, V, P = c["n_embd"], c["vocab_size"], c["n_positions"]
    Fi = c["n_inner"] or 4 * C
    shapes = {"wte.weight": (V, C), "wpe.weight": (P, C),
              "ln_f.weight": (C,), "ln_f.bias": (C,), "lm_head.weight": (V, C)}
    for i in range(c["n_layer"]):
        p = "h.%d." % i
        shapes.update({p + "ln_1.weight": (C,), p + "ln_1.bias": (C,),
                       p + "attn.c_attn.weight": (C, 3 * C),
                       p + "attn.c_attn.bias": (3 * C,),
                       p + "attn.c_proj.weight": (C, C),
                       p + "attn.c_proj.bias": (C,),
                       p + "ln_2.weight": (C,), p + "ln_2.bias": (C,),
                       p + "mlp.c_fc.weight": (C, Fi), p + "mlp.c_fc.bias": (Fi,),
                       p + "mlp.c_proj.weight": (Fi, C),
                       p + "mlp.c_proj.bias": (C,)})
    P_ = {}
    for n in param_names(c):
        s = shapes[n]
        if n.startswith("ln") or ".ln_" in n:
            base = 1.0 if n.endswith("weight") else 0.0
            t = base + 0.1 * torch.randn(s, generator=g)
        elif n.endswith("bias"):
            t = 0.05 * torch.randn(s, generator=g)
        else:
            t = 0.15 * torch.randn(s, generator=g)
        P_[n] = t.float().requires_grad_(True)
    return P_


def forward(c, P, ids, mask, lora=None):
    """lora: None, or f(module name, x, y) -> y' applied after each Conv1D
    (tests/ref/lora_ref.py adds its adapters there)."""
    B, T = ids.shape
    C, NH = c["n_embd"], c["n_head"]
    hs = C // NH
    eps = 1e-5
    fmin = torch.finfo(torch.float32).min
    pos = torch.arange(T)
    h = F.embedding(ids, P["wte.weight"]) + F.embedding(pos, P["wpe.weight"])
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool)).view(1, 1, T, T)
    ext = (1.0 - mask[:, None, None, :].to(torch.float32)) * fmin

    def conv1d(name, x):  # transformers.pytorch_utils.Conv1D
        w, b = P[name + ".weight"], P[name + ".bias"]
        size_out = x.size()[:-1] + (w.size(-1),)
        y = torch.addmm(b, x.view(-1, x.size(-1)), w).view(size_out)
        return y if lora is None else lora(name, x, y)

    def heads(x):
        return x.view(B, T, NH, hs).permute(0, 2, 1, 3)

    for i in range(c["n_layer"]):
        p = "h.%d." % i
        a = F.layer_norm(h, (C,), P[p + "ln_1.weight"], P[p + "ln_1.bias"], eps)
        qkv = conv1d(p + "attn.c_attn", a)
        q, k, v = qkv.split(C, dim=2)
        q, k, v = heads(q), heads(k), heads(v)
        w = torch.matmul(q, k.transpose(-1, -2))
        w = w / torch.full([], v.size(-1) ** 0.5, dtype=w.dtype)
        w = torch.where(causal, w.to(w.dtype),
                        torch.full([], torch.finfo(w.dtype).min,
                                   dtype=w.dtype))
        w = w + ext
        w = torch.softmax(w, dim=-1)
        o = torch.matmul(w, v).permute(0, 2, 1, 3).contiguous().view(B, T, C)
        o = conv1d(p + "attn.c_proj", o)
        h = h + o
        m = F.layer_norm(h, (C,), P[p + "ln_2.weight"], P[p + "ln_2.bias"], eps)
        f = gelu_new(conv1d(p + "mlp.c_fc", m))
        f = conv1d(p + "mlp.c_proj", f)
        h = h + f
    h = F.layer_norm(h, (C,), P["ln_f.weight"], P["ln_f.bias"], eps)
    head = P["wte.weight"] if c["tied"] else P["lm_head.weight"]
    return F.linear(h, head)


def shifted_ce_sum(logits, labels):
    sl = logits[..., :-1, :].contiguous()
    sl = sl.to(torch.promote_types(sl.dtype, torch.float32))  # logits.float()
    lb = labels[..., 1:].contiguous()
    return F.cross_entropy(sl.view(-1, sl.size(-1)), lb.view(-1),
                           ignore_index=-100, reduction="sum"), \
        int((lb != -100).sum())


def make_batch(c, g, lengths):
    B, T, V = c["B"], c["T"], c["vocab_size"]
    ids = torch.randint(0, V, (B, T), generator=g, dtype=torch.int64)
    mask = torch.zeros(B, T, dtype=torch.int64)
    for b, n in enumerate(lengths):
        mask[b, :n] = 1
        ids[b, n:] = V - 1  # pad id
    labels = ids.clone()
    labels[mask == 0] = -100
    labels[0, 2] = -100  # an ignored real position
    return ids, mask, labels


def gpt2_config(c):
    return {"model_type": "gpt2", "activation_function": "gelu_new",
            "n_layer": c["n_layer"], "n_embd": c["n_embd"],
            "n_head": c["n_head"], "n_positions": c["n_positions"],
            "vocab_size": c["vocab_size"], "n_inner": c["n_inner"],
            "layer_norm_epsilon": 1e-5, "embd_pdrop": 0.0, "attn_pdrop": 0.0,
            "resid_pdrop": 0.0, "bos_token_id": c["vocab_size"] - 1,
            "eos_token_id": c["vocab_size"] - 1,
            "tie_word_embeddings": c["tied"],
            "scale_attn_by_inverse_layer_idx": False,
            "reorder_and_upcast_attn": False}


def model_tensors(c, P):
    """The model.safetensors contents: case a's layout ("transformer."
    names plus attn.bias buffers) when c["prefixed"], else bare names."""
    model = {}
    for n in param_names(c):
        key = ("transformer." + n) if c["prefixed"] and n != "lm_head.weight" \
            else n
        model[key] = P[n].detach().clone()
    if c["prefixed"]:
        T0 = c["n_positions"]
        for i in range(c["n_layer"]):
            model["transformer.h.%d.attn.bias" % i] = \
                torch.tril(torch.ones(T0, T0)).view(1, 1, T0, T0)
    return model


def run_case(c, outdir):
    g = torch.Generator().manual_seed(1234 + ord(c["name"]))
    d = os.path.join(outdir, c["name"])
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(gpt2_config(c), f, indent=2, sort_keys=True)
        f.write("\n")
    P = init_params(c, g)
    names = param_names(c)
    write_safetensors(os.path.join(d, "model.safetensors"),
                      model_tensors(c, P), {"format": "pt"})

    batches = []
    for k in range(c["steps"]):
        for j in range(c["accum"]):
            batches.append(make_batch(c, g, c["lengths"][j]))
    decay = [n for n in names if not n.endswith("bias") and "ln_" not in n]
    ref, meta, norms = train(c, [(n, P[n]) for n in names], decay,
                             lambda ids, mask: forward(c, P, ids, mask),
                             batches)
    write_safetensors(os.path.join(d, "ref.safetensors"), ref, meta)
    print("case %s: loss %.6f, grad norms %s" % (c["name"], float(ref["loss"]),
                                                 " ".join("%.4f" % x for x in norms)))


def train(c, named, decay, fwd, batches):
    """The Trainer's steps, shared by tests/ref/llama_ref.py and
    tests/ref/lora_ref.py: torch.optim.AdamW over the tensors of named
    ([(name, tensor)], the trainable ones) in two groups (decay 0.01 for the
    names in decay, 0 for the rest), LambdaLR linear warmup then decay,
    clip_grad_norm_ over named, c["accum"] micro-batches a step whose loss
    is their summed cross-entropy / the step's target count.  fwd(ids, mask)
    gives the logits.  Returns the ref.safetensors tensors (batches, logits
    and loss of micro-batch 0, grad.NAME of step 0, final.NAME, step_loss,
    grad_norm, lr), their metadata, and the grad norms."""
    ref = {}
    names = [n for n, _ in named]
    P = dict(named)
    dec = set(decay)
    opt = torch.optim.AdamW(
        [{"params": [P[n] for n in names if n in dec], "weight_decay": 0.01},
         {"params": [P[n] for n in names if n not in dec],
          "weight_decay": 0.0}],
        lr=c["lr"], betas=(0.9, 0.999), eps=1e-8)
    W, S = c["warmup"], c["steps"]

    def lam(s):
        if s < W:
            return float(s) / float(max(1, W))
        return max(0.0, float(S - s) / float(max(1, S - W)))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lam)
    losses, norms, lrs = [], [], []
    for k in range(S):
        mb = batches[k * c["accum"]:(k + 1) * c["accum"]]
        total = sum(int((lb[..., 1:] != -100).sum()) for _, _, lb in mb)
        step_loss = 0.0
        for j, (ids, mask, labels) in enumerate(mb):
            logits = fwd(ids, mask)
            s, cnt = shifted_ce_sum(logits, labels)
            if k == 0 and j == 0:
                ref["logits"] = logits.detach().clone()
                ref["loss"] = (s / cnt).detach().view(1).clone()
            (s / total).backward()
            step_loss += float(s) / total
        if k == 0:
            for n in names:
                ref["grad." + n] = P[n].grad.detach().clone()
        lrs.append(opt.param_groups[0]["lr"])
        norm = torch.nn.utils.clip_grad_norm_([P[n] for n in names],
                                              c["max_norm"])
        norms.append(float(norm))
        losses.append(step_loss)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=False)
    for n in names:
        ref["final." + n] = P[n].detach().clone()
    for i, (ids, mask, labels) in enumerate(batches):
        ref["ids.%d" % i] = ids.to(torch.int32)
        ref["mask.%d" % i] = mask.to(torch.int32)
        ref["labels.%d" % i] = labels.to(torch.int32)
    ref["step_loss"] = torch.tensor(losses, dtype=torch.float32)
    ref["grad_norm"] = torch.tensor(norms, dtype=torch.float32)
    ref["lr"] = torch.tensor(lrs, dtype=torch.float32)
    meta = {"steps": str(S), "accum": str(c["accum"]), "warmup": str(W),
            "max_norm": repr(c["max_norm"]), "lr": repr(c["lr"]),
            "weight_decay": "0.01", "losses": json.dumps(losses),
            "grad_norms": json.dumps(norms), "lrs": json.dumps(lrs)}
    return ref, meta, norms


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/gpt2"
    for c in CASES:
        run_case(c, outdir)


if __name__ == "__main__":
    main()
