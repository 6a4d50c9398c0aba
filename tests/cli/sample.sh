#!/bin/sh
# ft-sample: greedy output equals the PyTorch reference (full recompute,
# tests/ref/sample_greedy_ref.py) through the KV cache; streaming, batches,
# seeds, JSONL, stop strings, echo and the errors.
. "${FT_TOP:-.}/tests/cli/lib.sh"
t_tmp
t_help_and_man ft-sample

M=$FIX/sample/tiny
hex() { od -An -v -tx1 | tr -d ' \n'; }
unhex() { # hex string -> bytes on stdout ("-" is empty)
	python3 -c 'import sys; a = sys.argv[1]
sys.stdout.buffer.write(b"" if a == "-" else bytes.fromhex(a))' "$1"
}

# 1. Greedy continuations equal the reference's, prompt by prompt, with
#    max_length 40 (the empty prompt starts from bos).
grep -E '^(prompt|text) ' "$FIX/sample/greedy.txt" | paste - - |
while read -r _ ph _ th; do
	p=$(unhex "$ph")
	got=$(ft-sample -m "$M" --greedy --max-length 40 -j 1 "$p" | hex)
	t_eq "${th#-}0a" "$got" "greedy continuation of '$p'"
done || exit 1

# 2. The same prompts from stdin (one per line) give the same outputs in
#    order; threads do not change greedy text here.
grep '^prompt ' "$FIX/sample/greedy.txt" | while read -r _ ph; do
	unhex "$ph"; echo; done >"$T/prompts.txt"
grep '^text ' "$FIX/sample/greedy.txt" | while read -r _ th; do
	unhex "$th"; echo; done >"$T/want.txt"
ft-sample -m "$M" --greedy --max-length 40 -j 2 <"$T/prompts.txt" >"$T/got.txt" ||
	t_fail "stdin prompts"
t_cmp "$T/want.txt" "$T/got.txt"

# 3. --echo prints the prompt first; --max-new-tokens gives a prefix.
P='Shall I compare thee'
full=$(ft-sample -m "$M" --greedy --max-length 40 "$P")
t_eq "$P$full" "$(ft-sample -m "$M" --greedy --max-length 40 --echo "$P")" "--echo"
short=$(ft-sample -m "$M" --greedy --max-new-tokens 5 "$P")
case "$full" in "$short"*) ;; *) t_fail "--max-new-tokens 5: '$short' is not a prefix of '$full'" ;; esac
[ ${#short} -lt ${#full} ] || t_fail "--max-new-tokens 5 did not stop early"

# 4. Stop strings end the text before them.
stop=$(printf '%s' "$full" | cut -c4-6)
want=$(printf '%s' "$full" | awk -v s="$stop" '{ i = index($0, s); print substr($0, 1, i - 1) }')
t_eq "$want" "$(ft-sample -m "$M" --greedy --max-length 40 --stop "$stop" --stop zzzz "$P")" "--stop"

# 5. Sampling: reproducible for a seed; sample 0 of a batch is the single
#    sample; streaming and --no-stream print the same bytes.
ft-sample -m "$M" --seed 5 --max-length 30 -n 3 "$P" "Forsooth" >"$T/s1" || t_fail sample
ft-sample -m "$M" --seed 5 --max-length 30 -n 3 --no-stream "$P" "Forsooth" >"$T/s2" || t_fail sample
t_cmp "$T/s1" "$T/s2"
ft-sample -m "$M" --seed 5 --max-length 30 -n 3 "$P" "Forsooth" >"$T/s3"
t_cmp "$T/s1" "$T/s3"
one=$(ft-sample -m "$M" --seed 5 --max-length 30 "$P")
t_eq "$one" "$(head -n 1 "$T/s1")" "sample 0 of a batch"
ft-sample -m "$M" --seed 6 --max-length 30 -n 3 "$P" "Forsooth" >"$T/s4"
cmp -s "$T/s1" "$T/s4" && t_fail "--seed 6 gave the output of --seed 5"
[ "$(wc -l <"$T/s1")" -ge 6 ] || t_fail "want 6 samples"

# 5b. Each prompt has its own random stream: prompt i samples with seed + i
#     (the same prompt twice does not give the same draw twice).
ft-sample -m "$M" --seed 5 --max-length 30 "$P" "$P" "$P" >"$T/same3" || t_fail "3 prompts"
for i in 0 1 2; do
	want=$(ft-sample -m "$M" --seed $((5 + i)) --max-length 30 "$P")
	t_eq "$want" "$(sed -n "$((i + 1))p" "$T/same3")" "prompt $i with seed 5 + $i"
done
[ "$(sort -u "$T/same3" | wc -l)" -eq 3 ] || t_fail "three prompts, one draw: $(cat "$T/same3")"
printf '%s\n%s\n' "$P" "$P" | ft-sample -m "$M" --seed 5 --max-length 30 >"$T/same2" ||
	t_fail "stdin prompts"
head -n 2 "$T/same3" | t_cmp /dev/stdin "$T/same2"
# --num-return-sequences is -n (generate()'s name)
ft-sample -m "$M" --seed 5 --max-length 30 --num-return-sequences 3 "$P" "Forsooth" >"$T/nrs" ||
	t_fail "--num-return-sequences"
t_cmp "$T/s1" "$T/nrs"

# 5c. The logits processors with greedy decoding equal the torch reference
#     (tests/ref/sample_greedy_ref.py processors: transformers' repetition
#     penalty, no-repeat n-gram and min-new-tokens before the argmax).
n=0
grep -E '^(case|prompt|text) ' "$FIX/sample/greedy_proc.txt" | paste - - - |
while read -r _ pen ng mn _ ph _ th; do
	p=$(unhex "$ph")
	got=$(ft-sample -m "$M" --greedy --max-length 40 -j 1 --repetition-penalty "$pen" \
		--no-repeat-ngram-size "$ng" --min-new-tokens "$mn" "$p" | hex)
	t_eq "${th#-}0a" "$got" "greedy, penalty $pen, n-gram $ng, min new $mn, '$p'"
	n=$((n + 1))
	echo "$n" >"$T/nproc"
done || exit 1
[ "$(cat "$T/nproc")" -ge 20 ] || t_fail "greedy_proc.txt: too few cases"
# the penalty changes sampling too, and stays reproducible
a=$(ft-sample -m "$M" --seed 3 --max-length 30 --repetition-penalty 1.5 "$P")
t_eq "$a" "$(ft-sample -m "$M" --seed 3 --max-length 30 --repetition-penalty 1.5 "$P")" "penalty, same seed"
[ "$a" != "$(ft-sample -m "$M" --seed 3 --max-length 30 "$P")" ] || t_fail "--repetition-penalty 1.5 changed nothing"

# 6. JSONL in and out.
printf '{"id":7,"prompt":"Shall I compare thee","completion":"old"}\n{"id":8,"prompt":""}\n' |
	ft-sample -m "$M" --greedy --max-length 40 --jsonl >"$T/out.jsonl" || t_fail jsonl
python3 - "$T/out.jsonl" "$full" <<'EOF' || t_fail "jsonl records"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["id"] for r in rows] == [7, 8], rows
assert open(sys.argv[1]).read().count('"completion"') == 2
assert rows[0]["completion"] == sys.argv[2], rows[0]
assert rows[0]["prompt"] == "Shall I compare thee"
EOF
printf '{"id":7,"line":"Shall I compare thee"}\n' |
	ft-sample -m "$M" --greedy --max-length 40 --jsonl --field line >"$T/f.jsonl" || t_fail "jsonl --field"
t_eq "{\"id\":7,\"line\":\"Shall I compare thee\",\"completion\":\"$full\"}" "$(cat "$T/f.jsonl")" "--field line"
printf '{"id":7,"line":"x"}\n' >"$T/nofield.jsonl"
t_expect_fail 1 "<stdin>:1: field 'prompt' is missing \\(the record has 'id', 'line'; --field" \
	sh -c "ft-sample -m '$M' --jsonl <'$T/nofield.jsonl'"
ft-sample -m "$M" --max-length 20 --jsonl -n 2 "$P" >"$T/n2.jsonl" || t_fail "jsonl -n 2"
t_eq 2 "$(grep -c '"sample":' "$T/n2.jsonl")" "jsonl samples"

# 7. Errors.
mkdir "$T/notok"
cp "$M/config.json" "$M/model.safetensors" "$T/notok/"
t_expect_fail 1 "vocab.json and merges.txt" ft-sample -m "$T/notok" "$P"
cp "$M/vocab.json" "$T/notok/"
t_expect_fail 1 "missing merges.txt" ft-sample -m "$T/notok" "$P"
t_expect_fail 1 "prompt has [0-9]+ tokens" ft-sample -m "$M" --max-length 3 "$P"
long=$(printf 'x %.0s' $(seq 60))
t_expect_fail 1 "48 positions" ft-sample -m "$M" "$long"
t_expect_fail 1 "not valid UTF-8" ft-sample -m "$M" "$(printf 'a\377')"
t_expect_fail 1 "no-such-dir" ft-sample -m "$T/no-such-dir" "$P"
t_expect_fail 2 "top-p" ft-sample -m "$M" --top-p 0 "$P"
t_expect_fail 2 "num-samples" ft-sample -m "$M" -n 0 "$P"
t_expect_fail 2 "repetition-penalty" ft-sample -m "$M" --repetition-penalty 0 "$P"
t_expect_fail 2 "no-repeat-ngram-size" ft-sample -m "$M" --no-repeat-ngram-size -1 "$P"
t_expect_fail 2 "min-new-tokens" ft-sample -m "$M" --min-new-tokens x "$P"
t_expect_fail 2 "--field goes with --jsonl" ft-sample -m "$M" --field x "$P"
if [ -w /dev/full ]; then
	ft-sample -m "$M" --max-length 20 "$P" >/dev/full 2>"$T/err" &&
		t_fail "/dev/full: want failure"
	grep -q "stdout" "$T/err" || t_fail "/dev/full: no message"
else
	t_skip_part "a full stdout: no /dev/full"
fi
echo ok
