#!/bin/sh
# Bad inputs from the bad-input sweep that once got a message naming
# nothing or left something behind: a directory given as a JSON input (the
# message said "Success"), config.json values out of the decoder's range
# (named "config", not the file and key; a bos_token_id past the
# vocabulary was "no bos_token_id"), and an ft-train run refused
# after it had made its run directory (an empty folder and a lock file
# stayed); ft-sample --merge-to into the base model or the adapter (it
# wrote over them); -o '' (ft-train wrote under '/'), -o a folder, -o a
# FIFO or device (renamed over: /dev/null became a regular file).
. "$FT_TOP/tests/cli/lib.sh"
t_tmp
M=$FIX/sample/tiny

# ---- a directory as the input: the reason, never "Success" ----
mkdir "$T/dir"
t_expect_fail 1 "cannot read '$T/dir': Is a directory" \
	ft-tokenize -m "$M" "$T/dir"
t_expect_fail 1 "cannot read '<stdin>': Is a directory" \
	sh -c 'exec ft-split --train "$1/t" --val "$1/v" <"$1/dir"' sh "$T"
[ ! -e "$T/t" ] && [ ! -e "$T/v" ] || t_fail "ft-split left outputs"
t_expect_fail 1 "cannot read '$T/dir': Is a directory" ft-clean "$T/dir"

# ---- -o: an empty name (ft-train wrote its run under '/'), a folder
# (the message named the temporary file), a FIFO (renamed over, it became
# a regular file: so would /dev/null) ----
printf '{"text":"a b"}\n' >"$T/one.jsonl"
t_expect_fail 2 "^ft-train: -o: empty file name$" \
	ft-train -m "$M" --train "$T/one.jsonl" -o ''
t_expect_fail 2 "^ft-train: --resume: empty file name$" \
	ft-train -m "$M" --train "$T/one.jsonl" -o "$T/r" --resume=
t_expect_fail 2 "^ft-sample: --merge-to: empty file name$" \
	ft-sample -m "$M" --merge-to ''
t_expect_fail 2 "^ft-clean: -o: empty file name$" ft-clean -o '' "$T/one.jsonl"
t_expect_fail 2 "^ft-split: --val: empty file name$" \
	ft-split --train "$T/t" --val '' "$T/one.jsonl"
t_expect_fail 2 "^ft-tokenize: -o: empty file name$" \
	ft-tokenize -m "$M" -o '' "$T/one.jsonl"
t_expect_fail 1 "cannot write '$T/dir': Is a directory" \
	ft-clean -o "$T/dir" "$T/one.jsonl"
t_expect_fail 1 "cannot write '$T/dir/': Is a directory" \
	ft-tokenize -m "$M" -o "$T/dir/" "$T/one.jsonl"
t_expect_fail 1 "cannot write '$T/dir': Is a directory" \
	ft-split --train "$T/t" --val "$T/dir" "$T/one.jsonl"
[ -z "$(ls -A "$T/dir")" ] || t_fail "temporary files left in $T/dir"
mkfifo "$T/fifo" || t_fail "mkfifo"
cat "$T/fifo" >"$T/fifo.out" &
reader=$!
ft-clean -o "$T/fifo" "$T/one.jsonl" || t_fail "ft-clean -o FIFO"
if [ ! -p "$T/fifo" ]; then
	kill $reader 2>/dev/null
	t_fail "ft-clean -o replaced the FIFO with a regular file"
fi
wait $reader
t_cmp "$T/one.jsonl" "$T/fifo.out"

# ---- config.json out of range: the file and the key ----
cfg() { # sed-expression regex
	rm -rf "$T/m"; cp -r "$M" "$T/m"
	sed "$1" "$M/config.json" >"$T/m/config.json"
	! cmp -s "$M/config.json" "$T/m/config.json" || t_fail "'$1' changed nothing"
	t_expect_fail 1 "$T/m/config.json: $2" ft-sample -m "$T/m" hi
}
cfg 's/"n_layer": 2/"n_layer": -2/' '"n_layer": -2 is out of range'
cfg 's/"n_positions": 48/"n_positions": 0/' '"n_positions": 0 is out of range'
cfg 's/"vocab_size": 317/"vocab_size": 0/' '"vocab_size": 0 is out of range'
cfg 's/"layer_norm_epsilon": 1e-05/"layer_norm_epsilon": -1/' \
	'"layer_norm_epsilon": -1 is not > 0'
cfg 's/"n_head": 4,/"n_head": 4, "attn_pdrop": 1,/' '"attn_pdrop": 1 is not in'
# a bos_token_id past the vocabulary is named as such, not as missing
cfg 's/"bos_token_id": 316/"bos_token_id": 5000/' \
	'"bos_token_id": 5000 is not below vocab_size 317'
cp -r "$FIX/llama/llama3" "$T/l"
sed 's/"rms_norm_eps": [^,]*/"rms_norm_eps": 0/' "$FIX/llama/llama3/config.json" \
	>"$T/l/config.json"
t_expect_fail 1 "$T/l/config.json: \"rms_norm_eps\": 0 is not > 0" \
	ft-sample -m "$T/l" hi

# ---- ft-train refused after making its run directory: no trace ----
printf '{"text":"hello world, and some more words"}\n' >"$T/in.jsonl"
ft-tokenize -m "$M" "$T/in.jsonl" >"$T/in.tok" || t_fail "ft-tokenize"
t_expect_fail 1 "above the model's n_positions" ft-train -m "$M" \
	--train "$T/in.tok" --max-length 4096 --max-steps 1 -q -o "$T/new/a/b"
[ ! -e "$T/new" ] || t_fail "a refused run left $(find "$T/new")"
mkdir "$T/old"
t_expect_fail 1 "above the model's n_positions" ft-train -m "$M" \
	--train "$T/in.tok" --max-length 4096 --max-steps 1 -q -o "$T/old/run"
[ -d "$T/old" ] && [ ! -e "$T/old/run" ] || t_fail "'old' not as it was"

# ---- ft-sample --merge-to: never over or into an input ----
cp -r "$M" "$T/base"
ft-train -m "$T/base" --train "$T/in.tok" --max-length 8 --max-steps 1 \
	--lora-r 2 -j 1 -q -o "$T/ad" || t_fail "ft-train --lora-r"
sums() { (cd "$1" && find . -type f | sort | xargs sha256sum); }
sums "$T/base" >"$T/base.sum"
sums "$T/ad" >"$T/ad.sum"
t_expect_fail 1 "'$T/base' holds the base model" \
	ft-sample -m "$T/base" --adapter "$T/ad" --merge-to "$T/base"
t_expect_fail 1 "'$T/ad' holds the adapter" ft-sample -m "$T/ad" --merge-to "$T/ad"
t_expect_fail 1 "'$T/ad/m' is inside the adapter" \
	ft-sample -m "$T/ad" --merge-to "$T/ad/m"
t_expect_fail 1 "'$T' holds the base model" ft-sample -m "$T/ad" --merge-to "$T"
sums "$T/base" | cmp -s - "$T/base.sum" || t_fail "the base model changed"
sums "$T/ad" | cmp -s - "$T/ad.sum" || t_fail "the adapter changed"
ft-sample -m "$T/ad" --merge-to "$T/merged" || t_fail "--merge-to a new folder"
[ -f "$T/merged/model.safetensors" ] || t_fail "no merged model"
exit 0
