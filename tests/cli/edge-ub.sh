#!/bin/sh
# Inputs at the edges that once reached undefined behaviour (issue 17),
# run by every `make check` and so by `make check SAN=1` (UBSan stops at
# the first report): every document empty through ft-tokenize -d (a NULL
# memmove), and a NaN through the attention softmax's exp (a negative
# shift in ft_expf_fast).
. "$FT_TOP/tests/cli/lib.sh"
t_tmp
TOKDIR=$(sh "$TOP/tests/get-gpt2-tokenizer.sh") || t_fail "no GPT-2 tokenizer"
mkdir "$T/tok"
cp "$TOKDIR/vocab.json" "$TOKDIR/merges.txt" "$T/tok/"

printf '{"text":""}\n{"text":""}\n' | ft-tokenize -m "$T/tok" --no-eos >"$T/e.tok" ||
	t_fail "ft-tokenize empty documents"
ft-tokenize -m "$T/tok" -d "$T/e.tok" >"$T/e.txt" || t_fail "ft-tokenize -d"
[ ! -s "$T/e.txt" ] || t_fail "empty documents decoded to text"
ft-tokenize -m "$T/tok" -d --jsonl "$T/e.tok" >"$T/e.jsonl" ||
	t_fail "ft-tokenize -d --jsonl"
t_eq 2 "$(wc -l <"$T/e.jsonl")" "decoded documents"

# a learning rate of 1e30 makes the weights overflow after one step: the
# next forward pass feeds NaN to the softmax; the run stops naming it
SON=$(sh "$TOP/tests/get-sonnets.sh") || t_fail "no sonnets"
head -n 8 "$SON" | ft-tokenize -m "$T/tok" >"$T/t.tok" || t_fail "ft-tokenize"
t_expect_fail 1 "(nan|inf) at step [0-9]+" ft-train --init gpt2-micro \
	--tokenizer-dir "$T/tok" --train "$T/t.tok" --max-length 16 --lr 1e30 \
	--warmup-steps 0 --max-steps 4 --save-steps 0 -j 1 -q -o "$T/nan"
exit 0
