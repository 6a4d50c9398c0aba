#!/usr/bin/python3
"""PyTorch reference for ft-sample: a tiny random GPT-2 model directory and
its greedy continuations.

    /usr/bin/python3 tests/ref/sample_greedy_ref.py tests/fixtures/sample

writes tests/fixtures/sample/tiny/ (config.json, generation_config.json,
model.safetensors, vocab.json, merges.txt: a byte-level BPE with 60 merges
learned from a fixed text, V = 317, n_embd 16, 4 heads, 2 layers,
n_positions 48) and tests/fixtures/sample/greedy.txt:

    prompt <hex of the prompt's UTF-8>
    ids <prompt ids>
    new <greedy ids: max_length 40 (prompt included), stop at eos>
    text <hex of decode(new), errors="replace">
    margin <smallest top-1 minus top-2 logit over the steps>
    logits0 <the last-position logits of the prompt, %.9g>

With a second argument "processors", the committed tiny model is read (not
remade) and tests/fixtures/sample/greedy_proc.txt written: greedy
continuations (max_length 40) with the logits processors of
tests/ref/sampler_ref.py (repetition penalty, no-repeat n-gram, min new
tokens) applied before the argmax, as generate() does:

    case <repetition_penalty> <no_repeat_ngram_size> <min_new_tokens>
    prompt / new / text / margin as above

The model is GPT2LMHeadModel's math (docs/hf-reference.md §10) written out in torch
(no transformers here): every step recomputes the whole sequence, so the C
tool's KV-cache path is checked against a full recompute.  The module also
serves tests/bench/sample (KV-cache decode loop, safetensors writer).
"""
import json
import math
import os
import re
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt2_ref  # noqa: E402


# ---- safetensors (docs/hf-reference.md §7 writer rules) ----

def save_safetensors(path, tensors):
    names = sorted(tensors)
    header, off = {"__metadata__": {"format": "pt"}}, 0
    for n in names:
        a = np.ascontiguousarray(tensors[n], dtype=np.float32)
        header[n] = {"dtype": "F32", "shape": list(a.shape),
                     "data_offsets": [off, off + a.nbytes]}
        off += a.nbytes
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for n in names:
            f.write(np.ascontiguousarray(tensors[n], dtype="<f4").tobytes())
    os.replace(path + ".tmp", path)


def load_safetensors(path):
    """The tensors of a GPT-2 file, "transformer." stripped."""
    t, _ = gpt2_ref.read_safetensors(path)
    return {k[len("transformer."):] if k.startswith("transformer.") else k: v
            for k, v in t.items()}


# ---- GPT-2 (docs/hf-reference.md §10) ----

class GPT2:
    def __init__(self, cfg, w):
        self.cfg, self.w = cfg, w
        self.L, self.C, self.H = cfg["n_layer"], cfg["n_embd"], cfg["n_head"]
        self.eps = cfg.get("layer_norm_epsilon", 1e-5)

    def ln(self, x, name):
        return torch.nn.functional.layer_norm(
            x, (self.C,), self.w[name + ".weight"], self.w[name + ".bias"],
            self.eps)

    def block(self, i, x, past=None):
        """x [B, T, C]; past (k, v) [B, H, S, hd] or None.  Returns the
        new x and (k, v) including the new positions."""
        w, H, C = self.w, self.H, self.C
        p = "h.%d." % i
        B, T, _ = x.shape
        hd = C // H
        a = self.ln(x, p + "ln_1")
        qkv = a @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
        q, k, v = qkv.split(C, dim=2)
        q, k, v = (t.view(B, T, H, hd).transpose(1, 2) for t in (q, k, v))
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        S = k.shape[2]
        att = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        if T > 1:   # one new query sees every cached key
            causal = torch.ones(S, S, dtype=torch.bool).tril()[S - T:, :]
            att = att.masked_fill(~causal, torch.finfo(att.dtype).min)
        att = att.softmax(dim=-1)
        o = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + o @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
        m = self.ln(x, p + "ln_2")
        f = m @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"]
        f = torch.nn.functional.gelu(f, approximate="tanh")
        x = x + f @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
        return x, (k, v)

    def forward(self, ids, past=None):
        """ids [B, T] (positions continue after past).  Returns logits
        [B, T, V] and the new past (list of (k, v) per layer)."""
        start = 0 if past is None else past[0][0].shape[2]
        T = ids.shape[1]
        x = self.w["wte.weight"][ids] + \
            self.w["wpe.weight"][start:start + T].unsqueeze(0)
        new = []
        for i in range(self.L):
            x, kv = self.block(i, x, None if past is None else past[i])
            new.append(kv)
        x = self.ln(x, "ln_f")
        head = self.w.get("lm_head.weight", self.w["wte.weight"])
        return x @ head.t(), new


def load_model(d):
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    return GPT2(cfg, load_safetensors(os.path.join(d, "model.safetensors")))


# ---- a tiny byte-level BPE ----

def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + \
        list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


B2U = bytes_to_unicode()
U2B = {v: k for k, v in B2U.items()}
# GPT-2's pre-tokenizer for ASCII text (the prompts and training text here
# are ASCII, where \p{L} and \p{N} are [A-Za-z] and [0-9]).
PAT = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+""")

TRAIN_TEXT = """Shall I compare thee to a summer's day? Thou art more lovely
and more temperate: rough winds do shake the darling buds of May, and
summer's lease hath all too short a date. Forsooth, for I shall not forget
thee; the eternal summer shall not fade, nor lose possession of that fair
thou owest, nor shall Death brag thou wander'st in his shade."""


def learn_merges(text, n):
    words = {}
    for piece in PAT.findall(text):
        t = tuple(B2U[b] for b in piece.encode())
        words[t] = words.get(t, 0) + 1
    merges = []
    for _ in range(n):
        pairs = {}
        for w, c in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] = pairs.get((a, b), 0) + c
        if not pairs:
            break
        best = max(sorted(pairs), key=lambda p: pairs[p])
        merges.append(best)
        new = {}
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new[tuple(out)] = new.get(tuple(out), 0) + c
        words = new
    return merges


class Tokenizer:
    def __init__(self, vocab, merges):
        self.vocab = vocab
        self.inv = {v: k for k, v in vocab.items()}
        self.ranks = {m: i for i, m in enumerate(merges)}

    def bpe(self, word):
        w = list(word)
        while len(w) > 1:
            pairs = [(self.ranks.get((a, b), math.inf), i)
                     for i, (a, b) in enumerate(zip(w, w[1:]))]
            r, _ = min(pairs)
            if r == math.inf:
                break
            a, b = [m for m, k in self.ranks.items() if k == r][0]
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            w = out
        return w

    def encode(self, text):
        ids = []
        for piece in PAT.findall(text):
            word = "".join(B2U[b] for b in piece.encode())
            ids += [self.vocab[t] for t in self.bpe(word)]
        return ids

    def decode_bytes(self, ids, skip=()):
        return b"".join(bytes(U2B[c] for c in self.inv[i])
                        for i in ids if i not in skip)


def make_tiny(d, seed=20261129):
    os.makedirs(d, exist_ok=True)
    merges = learn_merges(TRAIN_TEXT, 60)
    vocab = {}
    for b in B2U:              # GPT-2's order: printable bytes first
        vocab[B2U[b]] = len(vocab)
    for a, b in merges:
        vocab[a + b] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    V, C, H, L, P = len(vocab), 16, 4, 2, 48
    with open(os.path.join(d, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(d, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write("%s %s\n" % (a, b))
    cfg = {"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"],
           "bos_token_id": V - 1, "eos_token_id": V - 1,
           "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": P,
           "n_embd": C, "n_head": H, "n_inner": None, "n_layer": L,
           "n_positions": P, "vocab_size": V}
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
    with open(os.path.join(d, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": V - 1, "eos_token_id": V - 1}, f, indent=2)
    g = torch.Generator().manual_seed(seed)

    def rnd(*shape, std=0.2, mean=0.0):
        return (torch.randn(*shape, generator=g) * std + mean).numpy()

    w = {"transformer.wte.weight": rnd(V, C, std=1.0),
         "transformer.wpe.weight": rnd(P, C, std=0.5),
         "transformer.ln_f.weight": rnd(C, mean=1.0),
         "transformer.ln_f.bias": rnd(C, std=0.1)}
    for i in range(L):
        p = "transformer.h.%d." % i
        w[p + "ln_1.weight"] = rnd(C, mean=1.0)
        w[p + "ln_1.bias"] = rnd(C, std=0.1)
        w[p + "attn.c_attn.weight"] = rnd(C, 3 * C, std=0.4)
        w[p + "attn.c_attn.bias"] = rnd(3 * C, std=0.1)
        w[p + "attn.c_proj.weight"] = rnd(C, C, std=0.3)
        w[p + "attn.c_proj.bias"] = rnd(C, std=0.1)
        w[p + "ln_2.weight"] = rnd(C, mean=1.0)
        w[p + "ln_2.bias"] = rnd(C, std=0.1)
        w[p + "mlp.c_fc.weight"] = rnd(C, 4 * C, std=0.3)
        w[p + "mlp.c_fc.bias"] = rnd(4 * C, std=0.1)
        w[p + "mlp.c_proj.weight"] = rnd(4 * C, C, std=0.2)
        w[p + "mlp.c_proj.bias"] = rnd(C, std=0.1)
    save_safetensors(os.path.join(d, "model.safetensors"), w)


PROMPTS = ["Forsooth for I shall not", "Shall I compare thee", "a", "",
           "the summer's day", "Death brag thou wander"]


def greedy(model, ids, max_length, eos, procs=()):
    """Full recompute every step, as generate() without a cache; the
    logits processors procs (if any) run on the last logits first."""
    ids, new, margin = list(ids), [], math.inf
    first = None
    while len(ids) < max_length:
        logits, _ = model.forward(torch.tensor([ids]))
        last = logits[0, -1]
        for f in procs:
            last = f(torch.tensor([ids]), last.view(1, -1)).view(-1)
        if first is None:
            first = last
        top = torch.topk(last, 2).values
        margin = min(margin, (top[0] - top[1]).item())
        t = int(torch.argmax(last))
        ids.append(t)
        new.append(t)
        if t == eos:
            break
    return new, margin, first


def load_tiny(tiny):
    model = load_model(tiny)
    with open(os.path.join(tiny, "vocab.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    with open(os.path.join(tiny, "merges.txt"), encoding="utf-8") as f:
        merges = [tuple(l.split(" ")) for l in f.read().split("\n")[1:-1]]
    return model, Tokenizer(vocab, merges)


def main_processors(out):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import sampler_ref
    tiny = os.path.join(out, "tiny")
    model, tok = load_tiny(tiny)
    eos = model.cfg["eos_token_id"]
    cases = [(1.3, 0, 0), (2.0, 0, 0), (0.8, 0, 0), (1.0, 1, 0), (1.0, 2, 0),
             (1.0, 3, 0), (1.0, 0, 30), (1.2, 2, 30)]
    with open(os.path.join(out, "greedy_proc.txt"), "w") as f:
        for pen, ng, mn in cases:
            for p in PROMPTS[:3]:
                ids = tok.encode(p) or [model.cfg["bos_token_id"]]
                procs = sampler_ref.processors(pen, ng, mn, len(ids), [eos])
                new, margin, _ = greedy(model, ids, 40, eos, procs)
                text = tok.decode_bytes(new, skip=(eos,)).decode("utf-8", "replace")
                f.write("case %r %d %d\n" % (pen, ng, mn))
                f.write("prompt %s\n" % (p.encode().hex() or "-"))
                f.write("new %s\n" % " ".join(map(str, new)))
                f.write("text %s\n" % (text.encode().hex() or "-"))
                f.write("margin %.6g\n" % margin)
                print("%s %d %d %r -> %r (margin %.3g)" % (pen, ng, mn, p, text,
                      margin), file=sys.stderr)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/sample"
    if sys.argv[2:] == ["processors"]:
        main_processors(out)
        return
    tiny = os.path.join(out, "tiny")
    make_tiny(tiny)
    model, tok = load_tiny(tiny)
    eos = model.cfg["eos_token_id"]
    with open(os.path.join(out, "greedy.txt"), "w") as f:
        for p in PROMPTS:
            ids = tok.encode(p) or [model.cfg["bos_token_id"]]
            new, margin, first = greedy(model, ids, 40, eos)
            text = tok.decode_bytes(new, skip=(eos,)).decode("utf-8", "replace")
            f.write("prompt %s\n" % (p.encode().hex() or "-"))
            f.write("ids %s\n" % " ".join(map(str, ids)))
            f.write("new %s\n" % " ".join(map(str, new)))
            f.write("text %s\n" % (text.encode().hex() or "-"))
            f.write("margin %.6g\n" % margin)
            f.write("logits0 %s\n" % " ".join("%.9g" % x for x in first.tolist()))
            print("%r -> %r (margin %.3g)" % (p, text, margin), file=sys.stderr)


if __name__ == "__main__":
    main()
