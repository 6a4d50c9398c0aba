#!/bin/sh
# ft-split: numpy-identical shuffles (fixtures from tests/ref/split_ref.py),
# every option, stdin, byte-exact copies, and every error path.
. "$FT_TOP/tests/cli/lib.sh"
t_tmp
F=$FIX/split
t_help_and_man ft-split

run() { # tag, options...
	tag=$1; shift
	ft-split "$@" --train "$T/$tag.train" --val "$T/$tag.val" "$F/in.jsonl" ||
		t_fail "ft-split $*"
	t_cmp "$F/$tag.train" "$T/$tag.train"
	t_cmp "$F/$tag.val" "$T/$tag.val"
}
run default
run default --seed 42 --train-fraction 0.9
run default --val-fraction 0.1
run valfrac25 --val-fraction 0.25
run trainfrac5 --train-fraction 0.5
run seed7val3 -s 7 --val-size 3
run noshuffle --no-shuffle
run kfold4_1 --kfold 4 --fold 1

# stdin (spilled to $TMPDIR) and '-' outputs
cat "$F/in.jsonl" | TMPDIR=$T ft-split --train "$T/p.train" --val - >"$T/p.val" ||
	t_fail "ft-split from a pipe"
t_cmp "$F/default.train" "$T/p.train"
t_cmp "$F/default.val" "$T/p.val"
[ -z "$(ls -A "$T" | grep ft-split)" ] || t_fail "spill file left in TMPDIR"

# The k folds partition the records.
for i in 0 1 2 3; do
	ft-split --kfold 4 --fold $i --train "$T/k.t" --val "$T/k.$i" "$F/in.jsonl" ||
		t_fail "fold $i"
done
cat "$T"/k.[0-3] | sort >"$T/kall"
grep -v '^$' "$F/in.jsonl" | sort >"$T/all"
t_cmp "$T/all" "$T/kall"

# Larger N against the committed numpy vectors: seed 42, N = 2155.
awk 'BEGIN { for (i = 0; i < 2155; i++) printf "{\"id\":%d}\n", i }' >"$T/big.jsonl"
ft-split --train "$T/b.t" --val "$T/b.v" "$T/big.jsonl" || t_fail "big split"
awk '$1 == 42 && $2 == 2155 { n = int(0.9 * 2155);
	for (i = 3; i <= NF; i++) printf "{\"id\":%d}\n", $i > (i - 3 < n ? t : v) }' \
	t="$T/b.te" v="$T/b.ve" "$F/perm_vectors.txt"
t_cmp "$T/b.te" "$T/b.t"
t_cmp "$T/b.ve" "$T/b.v"
t_eq 1939 "$(wc -l <"$T/b.t" | tr -d ' ')" "train size"

# Empty input: two empty outputs.
: >"$T/empty.jsonl"
ft-split --train "$T/e.t" --val "$T/e.v" "$T/empty.jsonl" || t_fail "empty input"
[ -f "$T/e.t" ] && [ ! -s "$T/e.t" ] && [ ! -s "$T/e.v" ] || t_fail "empty outputs"

# The sonnets: validation rows as in hf-reference §4 (ids are 1-based rows).
S=$(t_shared)
if [ -n "$S" ]; then
	ft-split --train "$T/s.t" --val "$T/s.v" "$S/sonnets.jsonl" || t_fail sonnets
	t_eq 138 "$(wc -l <"$T/s.t" | tr -d ' ')" "sonnets train"
	got=$(sed 's/^{"id":\([0-9]*\),.*/\1/' "$T/s.v" | awk '{ printf "%s%d", s, $1 - 1; s = " " }')
	t_eq "102 139 150 41 110 22 19 64 47 113 140 14 141 36 97 136" "$got" "sonnets val rows"
else
	t_skip_part "the sonnets validation rows: ../shared not present"
fi

# Errors: message names FILE:LINE, exit 1, nothing written.
printf '{"text":"a"}\n{"text":\n' >"$T/bad1.jsonl"
t_expect_fail 1 "ft-split: error: .*bad1.jsonl:2: invalid JSON" \
	ft-split --train "$T/x.t" --val "$T/x.v" "$T/bad1.jsonl"
[ ! -e "$T/x.t" ] || t_fail "output written despite an error"
printf '{"text":"a"}\n\n[1]\n' >"$T/bad2.jsonl"
t_expect_fail 1 "bad2.jsonl:3: not a JSON object" \
	ft-split --train "$T/x.t" --val "$T/x.v" "$T/bad2.jsonl"
printf '{"text":"\377"}\n' >"$T/bad3.jsonl"
t_expect_fail 1 "bad3.jsonl:1: invalid UTF-8" \
	ft-split --train "$T/x.t" --val "$T/x.v" "$T/bad3.jsonl"
t_expect_fail 1 "<stdin>:1: invalid JSON" \
	sh -c "echo nope | ft-split --train '$T/x.t' --val '$T/x.v'"
t_expect_fail 1 "cannot open '$T/missing.jsonl'" \
	ft-split --train "$T/x.t" --val "$T/x.v" "$T/missing.jsonl"
t_expect_fail 1 "--val-size 30 is larger than the 23 records" \
	ft-split --val-size 30 --train "$T/x.t" --val "$T/x.v" "$F/in.jsonl"
t_expect_fail 1 "cannot create a temporary file for '$T/no/dir/t'" \
	ft-split --train "$T/no/dir/t" --val "$T/x.v" "$F/in.jsonl"
t_expect_fail 1 "<stdout>: write failed" \
	sh -c "ft-split --train '$T/x.t' --val - '$F/in.jsonl' >/dev/full"
t_expect_fail 2 "both --train FILE and --val FILE" ft-split --train "$T/x.t" "$F/in.jsonl"
t_expect_fail 2 "same file" ft-split --train "$T/x" --val "$T/x" "$F/in.jsonl"
t_expect_fail 2 "invalid number for --seed: 'x1'" ft-split -s x1 --train a --val b
t_expect_fail 2 "invalid number for --seed: '-1'" ft-split -s -1 --train a --val b
t_expect_fail 2 "--train-fraction must be between 0 and 1" ft-split --train-fraction 1.5 --train a --val b
t_expect_fail 2 "only one of" ft-split --val-size 2 --val-fraction 0.1 --train a --val b
t_expect_fail 2 "go together" ft-split --kfold 3 --train a --val b
t_expect_fail 2 "below --kfold" ft-split --kfold 3 --fold 3 --train a --val b
t_expect_fail 2 "too many input files" ft-split --train a --val b x y
echo ok
