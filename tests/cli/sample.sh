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
if [ -w /dev/full ]; then
	ft-sample -m "$M" --max-length 20 "$P" >/dev/full 2>"$T/err" &&
		t_fail "/dev/full: want failure"
	grep -q "stdout" "$T/err" || t_fail "/dev/full: no message"
fi
echo ok
