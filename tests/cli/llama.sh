#!/bin/sh
# The Llama family end to end through the six tools: a tiny random
# SmolLM2-135M (llama, 9 heads over 3 KV heads, BF16 weights, tied;
# tests/ref/smollm2_tiny.py) served by the loopback Hub is fetched, its
# greedy continuations equal the PyTorch reference's (full recompute,
# tests/hub/expected/smollm2-greedy.txt) through the KV cache, it is
# finetuned, saved under HF names with its config keys, reloaded and
# sampled; the Llama-family --init presets train from scratch.
. "${FT_TOP:-.}/tests/cli/lib.sh"
t_tmp
HUB=$TOP/tests/hub
t_hub_start "$HUB"
unset HF_HUB_OFFLINE TRANSFORMERS_OFFLINE HF_TOKEN_PATH XDG_CACHE_HOME
export HF_HOME=$T/home
hex() { od -An -v -tx1 | tr -d ' \n'; }
unhex() {
	python3 -c 'import sys; a = sys.argv[1]
sys.stdout.buffer.write(bytes.fromhex(a))' "$1"
}

M=$(ft-fetch -q model HuggingFaceTB/SmolLM2-135M) || t_fail "ft-fetch model"
for f in config.json generation_config.json model.safetensors tokenizer.json \
    vocab.json merges.txt; do
	[ -s "$M/$f" ] || t_fail "fetched $f missing"
done

# ft-tokenize (and so ft-sample) reads SmolLM2's tokenizer.json
echo "{\"text\": \"x\"}" | ft-tokenize -m "$M" >/dev/null ||
	t_fail "ft-tokenize refuses the fetched tokenizer.json"

# 1. Greedy continuations: the reference's new ids, decoded with the
#    byte-level vocabulary, are what ft-sample prints.
decode() { # ids... -> hex of the text
	python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
cs = bs[:]; n = 0
for b in range(256):
    if b not in bs:
        bs.append(b); cs.append(256 + n); n += 1
dec = {chr(c): b for b, c in zip(bs, cs)}
inv = {i: t for t, i in v.items()}
out = b"".join(bytes(dec[ch] for ch in inv[int(i)]) for i in sys.argv[2:])
print(out.decode("utf-8", "replace").encode().hex())' "$M/vocab.json" "$@"
}
grep '^prompt ' "$HUB/expected/smollm2-greedy.txt" >"$T/p"
grep '^new ' "$HUB/expected/smollm2-greedy.txt" >"$T/n"
[ -s "$T/p" ] || t_fail "no expected prompts"
paste -d ' ' "$T/p" "$T/n" | while read -r _ ph _ ids; do
	p=$(unhex "$ph")
	# shellcheck disable=SC2086
	want=$(decode $ids)
	# --keep-special: the reference decodes every id, and tokenizer.json
	# marks some of them (<issue_comment>, ...) special
	got=$(ft-sample -m "$M" --greedy --max-new-tokens 16 -j 1 --keep-special "$p" | hex)
	t_eq "${want}0a" "$got" "greedy continuation of '$p'"
done || exit 1

# An eos_token_id list (Llama 3 has several): any of its ids ends the
# sample.  The first prompt's continuation starts 281 93 72 ...
first=$(head -n 1 "$T/p" | cut -d' ' -f2)
ids=$(head -n 1 "$T/n" | cut -d' ' -f2-)
set -- $ids
mkdir "$T/eos"
cp -L "$M"/* "$T/eos/"
printf '{"bos_token_id": 0, "eos_token_id": [511, %s, 0]}\n' "$3" \
	>"$T/eos/generation_config.json"
got=$(ft-sample -m "$T/eos" --greedy --max-new-tokens 16 -j 1 \
	"$(unhex "$first")" | hex)
t_eq "$(decode "$1" "$2")0a" "$got" "stop at the second id of an eos list"

# 2. Finetune: the output directory has the HF names, the input config's
#    keys, the tokenizer files; it reloads and samples.
python3 -c 'import json; print("\n".join(json.dumps({"text": "From fairest creatures we desire increase, %d" % i}) for i in range(40)))' |
	ft-tokenize -m "$M" >"$T/train.tok" || t_fail "ft-tokenize"
ft-train -m "$M" --train "$T/train.tok" --max-steps 4 --max-length 24 \
	--lr 1e-3 --save-steps 0 -j 1 -q -o "$T/run" || t_fail "ft-train"
for f in config.json generation_config.json model.safetensors; do
	[ -s "$T/run/$f" ] || t_fail "run/$f missing"
done
for f in tokenizer.json tokenizer_config.json special_tokens_map.json \
    vocab.json merges.txt; do
	[ ! -e "$M/$f" ] || t_cmp "$M/$f" "$T/run/$f"
done
t_cmp "$M/generation_config.json" "$T/run/generation_config.json"
python3 - "$M/config.json" "$T/run/config.json" "$T/run/model.safetensors" <<'PY' || t_fail "saved model"
import json, struct, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
for k, v in a.items():
    if k != "torch_dtype" and b.get(k) != v:
        sys.exit("config key %s: %r became %r" % (k, v, b.get(k)))
assert b["torch_dtype"] == "float32" and b["model_type"] == "llama"
raw = open(sys.argv[3], "rb").read()
h = json.loads(raw[8:8 + struct.unpack("<Q", raw[:8])[0]])
names = set(h) - {"__metadata__"}
assert "model.embed_tokens.weight" in names and "lm_head.weight" not in names
assert "model.layers.1.self_attn.k_proj.weight" in names
assert h["model.layers.0.self_attn.k_proj.weight"]["shape"] == [12, 36]
assert all(t["dtype"] == "F32" for k, t in h.items() if k != "__metadata__")
PY
out=$(ft-sample -m "$T/run" --greedy --max-new-tokens 6 -j 1 "From fairest") ||
	t_fail "ft-sample on the finetuned model"
[ -n "$out" ] || t_fail "no text from the finetuned model"

# 3. From scratch with the Llama-family presets.
for p in llama-micro qwen3-tiny; do
	ft-train --init $p --tokenizer-dir "$M" --train "$T/train.tok" \
		--max-steps 3 --max-length 24 --save-steps 0 -j 1 -q \
		-o "$T/$p" || t_fail "ft-train --init $p"
	ft-sample -m "$T/$p" --greedy --max-new-tokens 3 -j 1 "From" >/dev/null ||
		t_fail "ft-sample on --init $p"
done
grep -q '"model_type": "qwen3"' "$T/qwen3-tiny/config.json" ||
	t_fail "qwen3-tiny config"
grep -q '"head_dim": 48' "$T/qwen3-tiny/config.json" ||
	t_fail "qwen3-tiny head_dim"
exit 0
