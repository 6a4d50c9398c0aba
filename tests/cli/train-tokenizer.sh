#!/bin/sh
# ft-train's outputs carry a tokenizer (issue 16, defect 4): a run without
# one is refused at the start unless --no-tokenizer; the run directory and
# its checkpoints get tokenizer_config.json and special_tokens_map.json as
# tokenizer.save_pretrained writes them (docs/hf-reference.md §13), the
# input's completed, or written for a GPT-2 folder of vocab.json and
# merges.txt only; ft-sample works on the run.
. "$FT_TOP/tests/cli/lib.sh"
t_tmp
TOKDIR=$(sh "$TOP/tests/get-gpt2-tokenizer.sh") ||
	t_skip "no GPT-2 tokenizer files (../shared absent, npm failed)"
mkdir "$T/tok"
cp "$TOKDIR/vocab.json" "$TOKDIR/merges.txt" "$T/tok/"
printf '{"text":"Shall I compare thee to a summer day"}\n{"text":"Thou art more lovely and more temperate"}\n' |
	ft-tokenize -m "$T/tok" >"$T/train.tok" || t_fail "ft-tokenize"
C="--train $T/train.tok --max-steps 2 --save-steps 1 --warmup-steps 0
--max-length 16 -j 1 -q"

# ---- refused at the start, one line naming what to pass ----
# shellcheck disable=SC2086
t_expect_fail 2 "^ft-train: error: --init gpt2-micro: the run needs a tokenizer: pass --tokenizer-dir DIR \(or -m DIR\), or --no-tokenizer$" \
	ft-train --init gpt2-micro $C -o "$T/r0"
[ ! -e "$T/r0" ] || t_fail "a refused run made its run directory"
# shellcheck disable=SC2086
t_expect_fail 2 "no tokenizer.*pass --tokenizer-dir DIR, or --no-tokenizer" \
	ft-train --init gpt2-micro --tokenizer-dir "$T" $C -o "$T/r0"
# shellcheck disable=SC2086
t_expect_fail 2 "exclude" \
	ft-train --init gpt2-micro --tokenizer-dir "$T/tok" --no-tokenizer $C -o "$T/r0"

# ---- --no-tokenizer: a model without one, which -m then refuses ----
# shellcheck disable=SC2086
ft-train --init gpt2-micro --no-tokenizer $C -o "$T/bare" ||
	t_fail "--no-tokenizer run"
for f in vocab.json merges.txt tokenizer.json tokenizer_config.json \
    special_tokens_map.json; do
	[ ! -e "$T/bare/$f" ] || t_fail "--no-tokenizer wrote $f"
done
t_expect_fail 1 "no tokenizer" ft-sample -m "$T/bare" --max-length 8 "Hi"
# shellcheck disable=SC2086
t_expect_fail 2 "'$T/bare' has no tokenizer .*--tokenizer-dir DIR, or --no-tokenizer" \
	ft-train -m "$T/bare" $C -o "$T/r1"
[ ! -e "$T/r1" ] || t_fail "a refused run made its run directory"
# shellcheck disable=SC2086
ft-train -m "$T/bare" --no-tokenizer $C -o "$T/r1" || t_fail "-m bare --no-tokenizer"
# shellcheck disable=SC2086
ft-train -m "$T/bare" --tokenizer-dir "$T/tok" $C -o "$T/r2" ||
	t_fail "-m bare --tokenizer-dir"

# ---- GPT-2 files only (vocab.json, merges.txt): the configs are written ----
# shellcheck disable=SC2086
ft-train --init gpt2-micro --tokenizer-dir "$T/tok" $C -o "$T/run" ||
	t_fail "--init --tokenizer-dir"
check() { # dir: the files parse and have save_pretrained's keys
	python3 - "$1" <<'PY' || t_fail "$1: tokenizer configs"
import json, sys
d = sys.argv[1]
cfg = json.load(open(d + "/config.json"))
tc = json.load(open(d + "/tokenizer_config.json"))
sm = json.load(open(d + "/special_tokens_map.json"))
e = "<|endoftext|>"
want = {"tokenizer_class": "GPT2Tokenizer", "bos_token": e, "eos_token": e,
        "unk_token": e, "pad_token": e, "add_bos_token": False,
        "add_prefix_space": False, "errors": "replace",
        "clean_up_tokenization_spaces": False,
        "model_max_length": cfg["n_positions"]}
for k, v in want.items():
    assert tc.get(k) == v, (d, k, tc.get(k), v)
dec = tc["added_tokens_decoder"]
assert list(dec) == [str(cfg["eos_token_id"])], dec
assert dec[str(cfg["eos_token_id"])]["content"] == e and \
    dec[str(cfg["eos_token_id"])]["special"] is True, dec
assert sm == {"bos_token": e, "eos_token": e, "unk_token": e,
              "pad_token": e}, sm
# json.dumps(indent=2, sort_keys=True) + "\n", as transformers writes them
for f, o in (("tokenizer_config.json", tc), ("special_tokens_map.json", sm)):
    text = open(d + "/" + f, encoding="utf-8").read()
    assert text == json.dumps(o, indent=2, sort_keys=True,
                              ensure_ascii=False) + "\n", f
PY
}
check "$T/run"
for c in "$T"/run/checkpoint-*; do
	check "$c"
	t_cmp "$T/run/tokenizer_config.json" "$c/tokenizer_config.json"
done
t_cmp "$T/tok/vocab.json" "$T/run/vocab.json"
t_cmp "$T/tok/merges.txt" "$T/run/merges.txt"
check "$T/r2"
ft-sample -m "$T/run" --max-length 8 --seed 1 "Shall I" >"$T/s.txt" ||
	t_fail "ft-sample on the run"
[ -s "$T/s.txt" ] || t_fail "ft-sample wrote nothing"
# the run's tokenizer tokenizes as its source did
printf '{"text":"Thou art <|endoftext|> more"}\n' >"$T/x.jsonl"
ft-tokenize -m "$T/tok" "$T/x.jsonl" >"$T/x1.tok"
ft-tokenize -m "$T/run" "$T/x.jsonl" >"$T/x2.tok"
t_cmp "$T/x1.tok" "$T/x2.tok"
# --merge-to and a further run from this one keep the files
# shellcheck disable=SC2086
ft-train -m "$T/run" $C -o "$T/run2" || t_fail "-m run"
t_cmp "$T/run/tokenizer_config.json" "$T/run2/tokenizer_config.json"
t_cmp "$T/run/special_tokens_map.json" "$T/run2/special_tokens_map.json"

# ---- the input's configs: copied as they are ----
mkdir "$T/tok2"
cp "$T/tok/vocab.json" "$T/tok/merges.txt" "$T/tok2/"
printf '{"model_max_length": 1024, "custom_key": [1, "x"]}\n' >"$T/tok2/tokenizer_config.json"
printf '{"eos_token": "<|endoftext|>"}\n' >"$T/tok2/special_tokens_map.json"
# shellcheck disable=SC2086
ft-train --init gpt2-micro --tokenizer-dir "$T/tok2" $C -o "$T/run3" ||
	t_fail "--tokenizer-dir tok2"
t_cmp "$T/tok2/tokenizer_config.json" "$T/run3/tokenizer_config.json"
t_cmp "$T/tok2/special_tokens_map.json" "$T/run3/special_tokens_map.json"
# only a tokenizer_config.json: the map is made from it
rm "$T/tok2/special_tokens_map.json"
printf '{"eos_token": "<|endoftext|>", "pad_token": null, "model_max_length": 64}\n' >"$T/tok2/tokenizer_config.json"
# shellcheck disable=SC2086
ft-train --init gpt2-micro --tokenizer-dir "$T/tok2" $C -o "$T/run4" ||
	t_fail "--tokenizer-dir tok2, no map"
t_cmp "$T/tok2/tokenizer_config.json" "$T/run4/tokenizer_config.json"
t_eq '{"eos_token": "<|endoftext|>"}' "$(tr -d ' \n' <"$T/run4/special_tokens_map.json" | sed 's/:/: /')" "special_tokens_map.json from the config"
echo ok
