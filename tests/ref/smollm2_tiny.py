#!/usr/bin/python3
"""A tiny random Llama-family repository served as HuggingFaceTB/SmolLM2-135M
by the loopback Hub (tests/hub/server.py), for the end-to-end test.

    /usr/bin/python3 tests/ref/smollm2_tiny.py [DIR]

writes DIR (default tests/hub/repos/models/HuggingFaceTB/SmolLM2-135M) with
the files the real repository has, the real keys in each, tiny dimensions:
  config.json             LlamaForCausalLM, SmolLM2's keys and ratios: 9
                          heads over 3 KV heads, tied, rope_theta 100000,
                          rms_norm_eps 1e-5, bos = eos = 0; hidden 36, 2
                          layers, intermediate 96, vocab 512
  generation_config.json  bos/eos 0, as SmolLM2-135M's
  model.safetensors       BF16 (as the real one), random N(0, std) weights,
                          norms near 1; HF names, no lm_head (tied)
  tokenizer.json          SmolLM2's pipeline: the 17 special tokens at ids
                          0..16 as added tokens, no normalizer, pre-tokenizer
                          Sequence[Digits(individual_digits), ByteLevel(
                          add_prefix_space false, use_regex)], ByteLevel
                          post-processor and decoder, BPE (merges "a b")
  vocab.json merges.txt   the same vocabulary and merges in GPT-2's files
  tokenizer_config.json special_tokens_map.json   as SmolLM2's
The BPE is learned (tests/ref/sample_greedy_ref.py's learn_merges) from a
few lines of Shakespeare with no digits and no whitespace runs, so no merge
joins a digit or two whitespace characters: GPT-2's algorithm on vocab.json
and merges.txt then gives the ids tokenizer.json gives (its Digits split
only differs from GPT-2's regex around digits and whitespace runs).
`smollm2_tiny.py --check DIR` verifies that with the real tokenizers
library (npm package tokenizers, NODE_PATH pointing at its node_modules)
and prints the SKIP reason when it is not there.

Also writes tests/hub/expected/smollm2-greedy.txt: greedy continuations
of a few prompts by tests/ref/llama_ref.py (full recompute each step,
max_new_tokens 16, stop at eos 0), in the format of
tests/fixtures/sample/greedy.txt:
    prompt <hex of UTF-8>  ids <prompt ids>  new <ids>  margin <top1-top2>
"""
import json
import os
import subprocess
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_ref as L            # noqa: E402
import sample_greedy_ref as S    # noqa: E402

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<repo_name>",
            "<reponame>", "<file_sep>", "<filename>", "<gh_stars>",
            "<issue_start>", "<issue_comment>", "<issue_closed>",
            "<jupyter_start>", "<jupyter_text>", "<jupyter_code>",
            "<jupyter_output>", "<jupyter_script>", "<empty_output>"]
V = 512

TEXT = """From fairest creatures we desire increase,
That thereby beauty's rose might never die,
But as the riper should by time decease,
His tender heir might bear his memory:
But thou, contracted to thine own bright eyes,
Feed'st thy light's flame with self-substantial fuel,
Making a famine where abundance lies,
Thyself thy foe, to thy sweet self too cruel.
Shall I compare thee to a summer's day?
Thou art more lovely and more temperate:
Rough winds do shake the darling buds of May,
And summer's lease hath all too short a date;
Sometime too hot the eye of heaven shines,
And often is his gold complexion dimm'd;
And every fair from fair sometime declines,
By chance or nature's changing course untrimm'd;
But thy eternal summer shall not fade,
Nor lose possession of that fair thou ow'st;
Nor shall death brag thou wander'st in his shade,
When in eternal lines to time thou grow'st:
So long as men can breathe or eyes can see,
So long lives this, and this gives life to thee.
Let me not to the marriage of true minds
Admit impediments. Love is not love
Which alters when it alteration finds,
Or bends with the remover to remove.
O no! it is an ever-fixed mark
That looks on tempests and is never shaken;
It is the star to every wand'ring bark,
Whose worth's unknown, although his height be taken.
"""

PROMPTS = ["Shall I compare thee", "From fairest creatures", "Love is 42",
           "O no!  it is"]


def config():
    return {
        "architectures": ["LlamaForCausalLM"], "attention_bias": False,
        "attention_dropout": 0.0, "bos_token_id": 0, "eos_token_id": 0,
        "hidden_act": "silu", "hidden_size": 36,
        "initializer_range": 0.041666666666666664, "intermediate_size": 96,
        "is_llama_config": True, "max_position_embeddings": 8192,
        "mlp_bias": False, "model_type": "llama", "num_attention_heads": 9,
        "num_hidden_layers": 2, "num_key_value_heads": 3,
        "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_interleaved": False,
        "rope_scaling": None, "rope_theta": 100000, "tie_word_embeddings": True,
        "torch_dtype": "bfloat16", "transformers_version": "4.40.1",
        "use_cache": True, "vocab_size": V}


def added(i, s):
    return {"id": i, "content": s, "single_word": False, "lstrip": False,
            "rstrip": False, "normalized": False, "special": True}


def build_vocab():
    n = V - len(SPECIALS) - 256
    merges = S.learn_merges(TEXT, n)
    assert len(merges) == n, len(merges)
    digits = set(S.B2U[b] for b in b"0123456789")
    spaces = set(S.B2U[b] for b in b" \t\n\r\x0b\x0c")
    for a, b in merges:
        t = a + b
        assert not (set(t) & digits), (a, b)
        assert sum(c in spaces for c in t) <= 1, (a, b)
    vocab = {}
    for s in SPECIALS:
        vocab[s] = len(vocab)
    for b in S.B2U:                 # GPT-2's byte order
        vocab[S.B2U[b]] = len(vocab)
    for a, b in merges:
        vocab[a + b] = len(vocab)
    assert len(vocab) == V
    return vocab, merges


def tokenizer_json(vocab, merges):
    bl = {"add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [added(i, s) for i, s in enumerate(SPECIALS)],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": True},
            dict(type="ByteLevel", **bl)]},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True,
                           "trim_offsets": False, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True,
                    "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False,
                  "byte_fallback": False, "vocab": vocab,
                  "merges": ["%s %s" % m for m in merges]}}


def special_map():
    tok = {"content": "<|endoftext|>", "lstrip": False, "normalized": False,
           "rstrip": False, "single_word": False}
    return {"additional_special_tokens": SPECIALS, "bos_token": tok,
            "eos_token": tok, "unk_token": tok}


def tokenizer_config():
    dec = {}
    for i, s in enumerate(SPECIALS):
        e = added(i, s)
        del e["id"]
        dec[str(i)] = e
    return {"add_prefix_space": False, "added_tokens_decoder": dec,
            "additional_special_tokens": SPECIALS,
            "bos_token": "<|endoftext|>", "clean_up_tokenization_spaces": False,
            "eos_token": "<|endoftext|>", "model_max_length": 8192,
            "tokenizer_class": "GPT2Tokenizer", "unk_token": "<|endoftext|>",
            "vocab_size": V}


def write_text(path, s):
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(s)
    os.replace(path + ".tmp", path)


def dump(obj, indent=2):
    return json.dumps(obj, indent=indent, ensure_ascii=False) + "\n"


def make(d, expected):
    os.makedirs(d, exist_ok=True)
    vocab, merges = build_vocab()
    cfg = config()
    write_text(os.path.join(d, "config.json"), dump(cfg))
    write_text(os.path.join(d, "generation_config.json"), dump(
        {"_from_model_config": True, "bos_token_id": 0, "eos_token_id": 0,
         "transformers_version": "4.40.1"}))
    write_text(os.path.join(d, "tokenizer.json"),
               dump(tokenizer_json(vocab, merges)))
    write_text(os.path.join(d, "vocab.json"),
               json.dumps(vocab, ensure_ascii=False, separators=(",", ":")))
    write_text(os.path.join(d, "merges.txt"), "#version: 0.2\n" + "".join(
        "%s %s\n" % m for m in merges))
    write_text(os.path.join(d, "tokenizer_config.json"),
               dump(tokenizer_config()))
    write_text(os.path.join(d, "special_tokens_map.json"), dump(special_map()))
    a = L.Arch(cfg)
    g = torch.Generator().manual_seed(135)
    P = {}
    for n, s in L.param_shapes(a):
        if L.is_norm(n):
            t = 1.0 + 0.1 * torch.randn(s, generator=g)
        elif n == "model.embed_tokens.weight":
            t = 1.0 * torch.randn(s, generator=g)
        else:
            t = 0.25 * torch.randn(s, generator=g)
        P[n] = L.stored(t.float(), "bfloat16")
    L.write_safetensors(os.path.join(d, "model.safetensors"), P,
                        {"format": "pt"}, "BF16")
    tok = S.Tokenizer(vocab, merges)
    lines = []
    for p in PROMPTS:
        ids = tok.encode(p)
        new, lg, margin = [], None, float("inf")
        seq = list(ids)
        with torch.no_grad():
            for _ in range(16):
                lg = L.forward(a, P, torch.tensor([seq]))[0, -1]
                top = torch.topk(lg, 2).values
                margin = min(margin, float(top[0] - top[1]))
                t = int(torch.argmax(lg))
                new.append(t)
                seq.append(t)
                if t == cfg["eos_token_id"]:
                    break
        lines.append("prompt %s\nids %s\nnew %s\nmargin %.6g\n" % (
            p.encode().hex(), " ".join(map(str, ids)),
            " ".join(map(str, new)), margin))
        print("%r -> %r (margin %.3g)" % (
            p, tok.decode_bytes(new, skip=(0,)).decode("utf-8", "replace"),
            margin), file=sys.stderr)
        assert margin > 1e-3, p
    if expected:
        write_text(expected, "".join(lines))


CHECK_JS = r"""
const { Tokenizer } = require("tokenizers");
const [file, texts] = [process.argv[1], JSON.parse(process.argv[2])];
(async () => {
  const t = Tokenizer.fromFile(file);
  const out = [];
  for (const s of texts) {
    const e = await t.encode(s, null, { addSpecialTokens: true });
    out.push(e.getIds());
  }
  console.log(JSON.stringify(out));
})().catch(e => { console.error(String(e)); process.exit(1); });
"""

CHECK_TEXTS = [TEXT, "Love is 42 and 1,000.5 or x2y", "a  1b\n\n3 \t 7 ",
               "  leading and trailing  ", "it's 12o'clock, isn't it?",
               "no!  it is 99 red balloons", "\n\n\nthee 2 thy", "0", " 0 ",
               "x" * 3 + " 10 " + "yy", "summer's day 18"]


def check(d):
    with open(os.path.join(d, "vocab.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    with open(os.path.join(d, "merges.txt"), encoding="utf-8") as f:
        merges = [tuple(x.split(" ")) for x in f.read().split("\n")[1:-1]]
    tok = S.Tokenizer(vocab, merges)
    try:
        r = subprocess.run(["node", "-e", CHECK_JS,
                            os.path.join(d, "tokenizer.json"),
                            json.dumps(CHECK_TEXTS)],
                           capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        print("SKIP: node: %s" % e)
        return
    if r.returncode != 0:
        print("SKIP: tokenizers (npm) not usable: %s" % r.stderr.strip()[-200:])
        return
    theirs = json.loads(r.stdout)
    for s, ids in zip(CHECK_TEXTS, theirs):
        mine = tok.encode(s)
        assert mine == ids, (s, mine, ids)
        back = tok.decode_bytes(ids).decode()
        assert back == s, (s, back)
    print("tokenizer.json (tokenizers) == vocab.json + merges.txt (GPT-2 "
          "algorithm) on %d texts, %d ids" % (len(theirs),
                                              sum(map(len, theirs))))


def main():
    top = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    default = os.path.join(top, "tests", "hub", "repos", "models",
                           "HuggingFaceTB", "SmolLM2-135M")
    if sys.argv[1:2] == ["--check"]:
        check(sys.argv[2] if len(sys.argv) > 2 else default)
        return
    d = sys.argv[1] if len(sys.argv) > 1 else default
    exp = os.path.join(top, "tests", "hub", "expected", "smollm2-greedy.txt") \
        if len(sys.argv) <= 1 else None
    make(d, exp)


if __name__ == "__main__":
    main()
