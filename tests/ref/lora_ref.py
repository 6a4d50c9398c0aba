#!/usr/bin/python3
"""Reference fixtures for LoRA adapters (issue 14; docs/hf-reference.md §18).

PEFT's LoRA math written in torch (no peft needed) on the models of
tests/ref/gpt2_ref.py (GPT-2, Conv1D [in, out], fan_in_fan_out) and
tests/ref/llama_ref.py (Llama family, Linear [out, in]), whose forwards
call back after every Conv1D / Linear of the blocks:

  y = base(x) + lora_B(lora_A(dropout(x))) * s      (peft LoraLayer Linear)
  lora_A.weight [r, in], lora_B.weight [out, r] (for Conv1D too: in, out
  from the base weight's [in, out]); s = lora_alpha / r, or
  lora_alpha / sqrt(r) with use_rslora; dropout 0 here (exactness).
  PEFT's init is A ~ kaiming_uniform_(a = sqrt(5)) = U(-1/sqrt(in),
  1/sqrt(in)), B = 0; the fixtures draw A that way with torch's generator
  and store it, and some cases also store a random nonzero B (so the
  gradients of A are nonzero at step 0), so the C side needs no torch RNG.
  Targets: module names ending in ".NAME" for NAME in target_modules (as
  PEFT's check_target_module_exists; "c_proj" hits attn.c_proj and
  mlp.c_proj).  The base is frozen: AdamW (Trainer groups: the adapter
  matrices decay, 0.01) over the adapters only, clip_grad_norm_ over them,
  LambdaLR linear warmup then decay.  Loss as the base fixtures (shifted
  CE, ignore -100, sum over the micro-batches / targets of the step).
  Merge (peft get_delta_weight): W + s * B @ A, transposed for
  fan_in_fan_out (Conv1D: W[in, out] + s * (B @ A)^T).

Usage: /usr/bin/python3 tests/ref/lora_ref.py [OUTDIR]  (default
tests/fixtures/lora); `lora_ref.py --check` runs the self-checks instead
(merged model = base + adapter forward, B = 0 gives the base logits, an
explicit Conv1D/Linear formulation of the delta, float64 gradcheck of A
and B, and the committed fixtures read back) and writes nothing.

For each case OUTDIR/CASE/ holds:
  config.json model.safetensors   the base model (as tests/fixtures/gpt2,
                                  tests/fixtures/llama write them)
  adapter_config.json             as PEFT's save_pretrained writes it
  adapter_model.safetensors       the initial adapter, PEFT names:
      base_model.model.<module>.lora_A.weight [r, in], .lora_B.weight
      [out, r]; <module> e.g. transformer.h.0.attn.c_attn (GPT-2),
      model.layers.0.self_attn.q_proj (Llama family)
  ref.safetensors
    ids.i mask.i labels.i     I32 micro-batch i = step * accum + j
    logits loss               F32 micro-batch 0, initial adapter
    grad.ADAPTER              F32 step-0 gradient of each adapter tensor
                              (ADAPTER its PEFT name), before clipping
    final.ADAPTER             F32 after `steps` AdamW steps
    step_loss grad_norm lr    F32 [steps]
    merged.NAME               F32 each targeted base weight (the base's
                              tensor name) merged with the final adapter
    adapter_logits            F32 logits of ids.0 with the final adapter
    merged_logits             F32 logits of ids.0 by the merged model
    gen.prompt.j gen.ids.j gen.logits.j   greedy (as tests/ref/llama_ref.py:
                              10 new tokens, full recompute, no eos stop)
                              with the final adapter
  metadata: steps accum warmup max_norm lr weight_decay r lora_alpha
  scaling use_rslora targets losses grad_norms lrs gen_new gen_prompts
  gen_margin.
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt2_ref as G   # noqa: E402
import llama_ref as L  # noqa: E402

torch.set_num_threads(1)

GPT2_MODULES = ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")
LLAMA_MODULES = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                 "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj",
                 "mlp.down_proj")

CASES = [
    # GPT-2 Conv1D (fan_in_fan_out), c_attn + c_proj (attn and mlp) + c_fc,
    # nonzero B, tied head, clipping active
    dict(name="gpt2", arch="gpt2",
         base=dict(n_layer=2, n_embd=24, n_head=3, n_positions=16,
                   vocab_size=53, n_inner=None, tied=True, prefixed=True,
                   B=3, T=7),
         lengths=[[7, 5, 3]], targets=["c_attn", "c_proj", "c_fc"],
         r=4, alpha=8, rslora=False, random_b=True, steps=4, accum=1,
         warmup=1, max_norm=0.5, lr=1e-2),
    # Llama (GQA, explicit head_dim 8: q_proj 24 -> 32, k/v 24 -> 16,
    # o_proj 32 -> 24), every linear, rslora, B zero as PEFT inits it (A's grads zero at
    # step 0, nonzero once B moved), untied
    dict(name="llama", arch="llama",
         cfg=L.make_config("llama", C=24, L=2, H=4, KV=2, F_=40, V=53,
                           head_dim=8, tied=False),
         B=3, T=8, lengths=[[8, 6, 3]],
         targets=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                  "up_proj", "down_proj"],
         r=3, alpha=6, rslora=True, random_b=False, steps=4, accum=1,
         warmup=1, max_norm=1.0, lr=2e-2),
    # Qwen2 (q/k/v biases stay frozen), PEFT's default targets q_proj and
    # v_proj, nonzero B, BF16 base file, accumulation 2
    dict(name="qwen2", arch="llama",
         cfg=L.make_config("qwen2", C=24, L=2, H=4, KV=1, F_=34, V=47,
                           theta=1000000.0, eps=1e-6, dtype="bfloat16"),
         B=2, T=9, lengths=[[9, 6], [5, 9]], targets=["q_proj", "v_proj"],
         r=2, alpha=4, rslora=False, random_b=True, steps=3, accum=2,
         warmup=1, max_norm=1.0, lr=1e-2),
]


def scaling(c):
    return c["alpha"] / math.sqrt(c["r"]) if c["rslora"] else \
        c["alpha"] / c["r"]


def matches(module, targets):
    """peft check_target_module_exists for a list of names."""
    return any(module == t or module.endswith("." + t) for t in targets)


class Base:
    """The base model of a case: names, weights, forward with a LoRA hook."""

    def __init__(self, c, g):
        self.c = c
        if c["arch"] == "gpt2":
            b = dict(c["base"], name=c["name"])
            self.b = b
            self.P = G.init_params(b, g)
            self.names = G.param_names(b)
            self.prefix = "transformer."       # module path in the HF model
            self.modules = ["h.%d.%s" % (i, m) for i in range(b["n_layer"])
                            for m in GPT2_MODULES]
            self.V = b["vocab_size"]
        else:
            self.a = L.Arch(c["cfg"])
            P = L.init_params(self.a, g)
            self.P = {n: L.stored(t, c["cfg"]["torch_dtype"])
                      for n, t in P.items()}
            self.names = [n for n, _ in L.param_shapes(self.a)]
            self.prefix = ""
            self.modules = ["model.layers.%d.%s" % (i, m)
                            for i in range(self.a.L) for m in LLAMA_MODULES]
            self.V = self.a.V
        for t in self.P.values():
            t.requires_grad_(False)

    def in_out(self, m):
        w = self.P[m + ".weight"]
        if self.c["arch"] == "gpt2":
            return w.shape[0], w.shape[1]   # Conv1D [in, out]
        return w.shape[1], w.shape[0]       # Linear [out, in]

    def forward(self, ids, mask, lora=None, P=None):
        P = self.P if P is None else P
        if self.c["arch"] == "gpt2":
            return G.forward(self.b, P, ids, mask, lora)
        return L.forward(self.a, P, ids, mask, lora=lora)

    def make_batch(self, g, lengths):
        if self.c["arch"] == "gpt2":
            return G.make_batch(self.b, g, lengths)
        return L.make_batch(self.c, self.a, g, lengths)

    def peft_name(self, m, ab):
        return "base_model.model.%s%s.lora_%s.weight" % (self.prefix, m, ab)

    def merged(self, adapters, s):
        """peft merge: W += transpose(B @ A, fan_in_fan_out) * s."""
        P = {n: t.detach().clone() for n, t in self.P.items()}
        for m, (A, B) in adapters.items():
            d = (B @ A) * s
            if self.c["arch"] == "gpt2":
                d = d.t()
            P[m + ".weight"] = P[m + ".weight"] + d
        return P

    def write(self, d):
        if self.c["arch"] == "gpt2":
            with open(os.path.join(d, "config.json"), "w") as f:
                json.dump(G.gpt2_config(self.b), f, indent=2, sort_keys=True)
                f.write("\n")
            G.write_safetensors(os.path.join(d, "model.safetensors"),
                                G.model_tensors(self.b, self.P),
                                {"format": "pt"})
            return
        cfg = self.c["cfg"]
        L.write_json(os.path.join(d, "config.json"), cfg)
        L.write_safetensors(os.path.join(d, "model.safetensors"), self.P,
                            {"format": "pt"}, L.FILE_DTYPE[cfg["torch_dtype"]])


def init_adapters(base, c, g):
    """{module: (A [r, in], B [out, r])} for the targeted modules."""
    out = {}
    for m in base.modules:
        if not matches(m, c["targets"]):
            continue
        i, o = base.in_out(m)
        bound = 1.0 / math.sqrt(i)   # kaiming_uniform_(a=sqrt(5))
        A = (torch.rand(c["r"], i, generator=g) * 2 - 1) * bound
        if c["random_b"]:
            B = 0.2 * torch.randn(o, c["r"], generator=g)
        else:
            B = torch.zeros(o, c["r"])
        out[m] = (A.float(), B.float())
    return out


def lora_hook(adapters, s, dropout=None):
    """PEFT Linear.forward: result + lora_B(lora_A(dropout(x))) * scaling."""
    def hook(name, x, y):
        if name not in adapters:
            return y
        A, B = adapters[name]
        xd = x if dropout is None else dropout(x)
        return y + F.linear(F.linear(xd, A), B) * s
    return hook


def adapter_config(c, base_name):
    fifo = c["arch"] == "gpt2"
    return {"alpha_pattern": {}, "auto_mapping": None,
            "base_model_name_or_path": base_name, "bias": "none",
            "fan_in_fan_out": fifo, "inference_mode": True,
            "init_lora_weights": True, "layer_replication": None,
            "layers_pattern": None, "layers_to_transform": None,
            "loftq_config": {}, "lora_alpha": c["alpha"],
            "lora_dropout": 0.0, "megatron_config": None,
            "megatron_core": "megatron.core", "modules_to_save": None,
            "peft_type": "LORA", "r": c["r"], "rank_pattern": {},
            "revision": None, "target_modules": sorted(c["targets"]),
            "task_type": "CAUSAL_LM", "use_dora": False,
            "use_rslora": c["rslora"]}


def run_case(c, outdir):
    g = torch.Generator().manual_seed(20261214 + sum(map(ord, c["name"])))
    base = Base(c, g)
    d = os.path.join(outdir, c["name"])
    os.makedirs(d, exist_ok=True)
    base.write(d)
    s = scaling(c)
    ad = init_adapters(base, c, g)
    L.write_json(os.path.join(d, "adapter_config.json"),
                 adapter_config(c, "tests/fixtures/lora/" + c["name"]))
    init = {}
    for m, (A, B) in ad.items():
        init[base.peft_name(m, "A")] = A
        init[base.peft_name(m, "B")] = B
    L.write_safetensors(os.path.join(d, "adapter_model.safetensors"), init,
                        {"format": "pt"})
    # trainable: the adapters, in module order, A then B (PEFT's order)
    names, params = [], []
    for m, (A, B) in ad.items():
        A.requires_grad_(True)
        B.requires_grad_(True)
        names += [base.peft_name(m, "A"), base.peft_name(m, "B")]
        params += [A, B]
    hook = lora_hook(ad, s)
    batches = []
    for k in range(c["steps"]):
        for j in range(c["accum"]):
            batches.append(base.make_batch(g, c["lengths"][j]))
    # the adapter matrices are all in the Trainer's decay group
    ref, meta, norms = G.train(c, list(zip(names, params)), names,
                               lambda ids, mask: base.forward(ids, mask, hook),
                               batches)
    fin = {m: (A.detach(), B.detach()) for m, (A, B) in ad.items()}
    Pm = base.merged(fin, s)
    for m in fin:
        ref["merged.%s.weight" % m] = Pm[m + ".weight"]
    ids0, mask0 = batches[0][0], batches[0][1]
    fhook = lora_hook(fin, s)
    with torch.no_grad():
        ref["adapter_logits"] = base.forward(ids0, mask0, fhook)
        ref["merged_logits"] = base.forward(ids0, mask0, None, Pm)
    gen = L.gen_fixture(ref, lambda t: base.forward(t, torch.ones_like(t),
                                                    fhook), base.V,
                        torch.Generator().manual_seed(5), (1, 4))
    meta.update({"r": str(c["r"]), "lora_alpha": repr(c["alpha"]),
                 "scaling": repr(s), "use_rslora": json.dumps(c["rslora"]),
                 "targets": json.dumps(c["targets"])})
    meta.update(gen)
    L.write_safetensors(os.path.join(d, "ref.safetensors"), ref, meta)
    print("case %s: %d adapters, s %.4g, loss %.6f, grad norms %s" % (
        c["name"], len(ad), s, float(ref["loss"]),
        " ".join("%.4f" % x for x in norms)))


def check():
    for c in CASES:
        g = torch.Generator().manual_seed(99)
        base = Base(c, g)
        cc = dict(c, random_b=True)
        ad = init_adapters(base, cc, g)
        s = scaling(c)
        ids, mask, labels = base.make_batch(g, c["lengths"][0])
        with torch.no_grad():
            y1 = base.forward(ids, mask, lora_hook(ad, s))
            y2 = base.forward(ids, mask, None, base.merged(ad, s))
            zero = {m: (A, torch.zeros_like(B)) for m, (A, B) in ad.items()}
            y3 = base.forward(ids, mask, lora_hook(zero, s))
            y4 = base.forward(ids, mask)
        # the delta of one module by the explicit Conv1D/Linear formula
        m = next(iter(ad))
        A, B = ad[m]
        i, o = base.in_out(m)
        x = torch.randn(5, i, generator=g)
        W = base.P[m + ".weight"]
        if c["arch"] == "gpt2":
            full = x @ (W + s * (B @ A).t())
            part = x @ W + s * ((x @ A.t()) @ B.t())
        else:
            full = x @ (W + s * (B @ A)).t()
            part = x @ W.t() + s * ((x @ A.t()) @ B.t())
        e1 = float((y1 - y2).abs().max())
        e2 = float((y3 - y4).abs().max())
        e3 = float((full - part).abs().max())
        print("%-6s %d adapters: adapter vs merged %.1e, B=0 vs base %.1e, "
              "delta formula %.1e" % (c["name"], len(ad), e1, e2, e3))
        assert e1 < 2e-5 and e2 == 0.0 and e3 < 1e-5
        # float64 gradcheck of the loss in A and B (first two modules)
        base.P = {n: t.double() for n, t in base.P.items()}
        mods = list(ad)[:2]
        ad64 = {mm: (A.double(), B.double()) for mm, (A, B) in ad.items()}
        vals = []
        for mm in mods:
            vals += [ad64[mm][0].clone().requires_grad_(True),
                     ad64[mm][1].clone().requires_grad_(True)]

        def f(*v):
            q = dict(ad64)
            for n_, mm in enumerate(mods):
                q[mm] = (v[2 * n_], v[2 * n_ + 1])
            sm, n = L.shifted_ce_sum(base.forward(ids, mask, lora_hook(q, s)),
                                     labels)
            return sm / n
        assert torch.autograd.gradcheck(f, vals, eps=1e-6, atol=1e-6)
        print("%-6s gradcheck float64 of lora_A/lora_B ok" % c["name"])
    top = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    for c in CASES:
        d = os.path.join(top, "tests", "fixtures", "lora", c["name"])
        if not os.path.exists(os.path.join(d, "ref.safetensors")):
            print("%s: no fixture to read back" % c["name"])
            continue
        base = Base(c, torch.Generator().manual_seed(0))
        Pf, _ = L.read_safetensors(os.path.join(d, "model.safetensors"))
        if c["arch"] == "gpt2":
            Pf = {k[len("transformer."):] if k.startswith("transformer.")
                  else k: v for k, v in Pf.items() if not k.endswith(".attn.bias")}
        base.P = Pf
        ada, _ = L.read_safetensors(os.path.join(d, "adapter_model.safetensors"))
        R, meta = L.read_safetensors(os.path.join(d, "ref.safetensors"))
        with open(os.path.join(d, "adapter_config.json")) as f:
            acfg = json.load(f)
        s = acfg["lora_alpha"] / (math.sqrt(acfg["r"]) if acfg["use_rslora"]
                                  else acfg["r"])
        pre = "base_model.model." + base.prefix
        mods = sorted({k[len(pre):-len(".lora_A.weight")] for k in ada
                       if k.endswith(".lora_A.weight")})
        assert all(matches(m, acfg["target_modules"]) for m in mods)
        assert len(ada) == 2 * len(mods)
        ad = {m: (ada[base.peft_name(m, "A")], ada[base.peft_name(m, "B")])
              for m in mods}
        fin = {m: (R["final." + base.peft_name(m, "A")],
                   R["final." + base.peft_name(m, "B")]) for m in mods}
        ids, mask = R["ids.0"].long(), R["mask.0"].long()
        with torch.no_grad():
            e1 = float((base.forward(ids, mask, lora_hook(ad, s)) -
                        R["logits"]).abs().max())
            e2 = float((base.forward(ids, mask, lora_hook(fin, s)) -
                        R["adapter_logits"]).abs().max())
        Pm = base.merged(fin, s)
        e3 = max(float((Pm[m + ".weight"] - R["merged.%s.weight" % m])
                       .abs().max()) for m in mods)
        print("%-6s fixture read back: logits %.1e, adapter logits %.1e, "
              "merged %.1e" % (c["name"], e1, e2, e3))
        assert e1 == 0.0 and e2 == 0.0 and e3 == 0.0
    print("all checks passed")


def main():
    if sys.argv[1:2] == ["--check"]:
        check()
        return
    outdir = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/lora"
    for c in CASES:
        run_case(c, outdir)


if __name__ == "__main__":
    main()
