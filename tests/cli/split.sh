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

# The sonnets: validation rows as in docs/hf-reference.md §4 (ids are 1-based rows).
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
t_expect_fail 2 "--seed: 'x1' is not a number" ft-split -s x1 --train a --val b
t_expect_fail 2 "--seed: '-1' is not a number" ft-split -s -1 --train a --val b
t_expect_fail 2 "--train-fraction: '1.5' must be between 0 and 1" ft-split --train-fraction 1.5 --train a --val b
t_expect_fail 2 "only one of" ft-split --val-size 2 --val-fraction 0.1 --train a --val b
t_expect_fail 2 "go together" ft-split --kfold 3 --train a --val b
t_expect_fail 2 "below --kfold" ft-split --kfold 3 --fold 3 --train a --val b
t_expect_fail 2 "only one of --json, --csv" ft-split --csv --lines --train a --val b

# ---- your own data: the formats of load_dataset("text" | "csv" | "json"),
# against tests/ref/records_ref.py (ids of the datasets loaders' rules) ----
R=$FIX/records
all() { ft-split --no-shuffle --val-size 0 --train "$T/r.out" --val "$T/r.v" "$@" ||
	t_fail "ft-split $*"; [ ! -s "$T/r.v" ] || t_fail "val not empty"; }
for fmt in lines paragraphs text; do
	for f in a b c d; do
		all --$fmt "$R/$f.txt"
		t_cmp "$R/$f.txt.$fmt.jsonl" "$T/r.out"
	done
	# several files, concatenated in order; stdin as one of them
	all --$fmt "$R/a.txt" - "$R/c.txt" "$R/d.txt" <"$R/b.txt"
	t_cmp "$R/all.$fmt.jsonl" "$T/r.out"
done
all --csv "$R/a.csv"
t_cmp "$R/a.csv.jsonl" "$T/r.out"
ft-split --csv --no-shuffle --val-size 0 --train "$T/r.out" --val "$T/r.v" <"$R/a.csv" ||
	t_fail "csv on stdin"
t_cmp "$R/a.csv.jsonl" "$T/r.out"
# a JSON array: each element as its JSON, compacted (file and pipe)
all "$R/a.json"
t_cmp "$R/a.json.jsonl" "$T/r.out"
cat "$R/a.json" | ft-split --no-shuffle --val-size 0 --train "$T/r.out" --val "$T/r.v" ||
	t_fail "array on stdin"
t_cmp "$R/a.json.jsonl" "$T/r.out"
# ... spellings kept byte for byte (what json.dumps would rewrite)
printf ' \n [ {"t": "caf\\u00e9 \\/", "n": 1.50e1 } ]' >"$T/sp.json"
all "$T/sp.json"
t_eq '{"t":"caf\u00e9 \/","n":1.50e1}' "$(cat "$T/r.out")" "array element bytes"
# the records split like any others (the same seed, the same permutation)
ft-split --lines --val-size 2 --train "$T/l.t" --val "$T/l.v" "$R/a.txt" || t_fail "split lines"
cat "$T/l.t" "$T/l.v" | sort >"$T/l.all"
sort "$R/a.txt.lines.jsonl" >"$T/l.want"
t_cmp "$T/l.want" "$T/l.all"
t_eq 2 "$(wc -l <"$T/l.v" | tr -d ' ')" "--lines --val-size 2"
# JSONL of several files: concatenated
ft-split --no-shuffle --val-size 0 --train "$T/j.t" --val "$T/j.v" "$F/in.jsonl" "$F/in.jsonl" ||
	t_fail "two JSONL files"
awk 1 "$F/in.jsonl" "$F/in.jsonl" | grep -v '^[[:space:]]*$' >"$T/j.want"
t_cmp "$T/j.want" "$T/j.t"

# their errors: FILE:LINE, exit 1
printf 'a,b\n1,2\n3\n' >"$T/e1.csv"
t_expect_fail 1 "e1.csv:3: 1 fields, the header has 2" ft-split --csv --train "$T/y.t" --val "$T/y.v" "$T/e1.csv"
printf 'a,b\n1,"2\n\n' >"$T/e2.csv"
t_expect_fail 1 "e2.csv:2: unterminated quoted field" ft-split --csv --train "$T/y.t" --val "$T/y.v" "$T/e2.csv"
printf 'a,b\n1,"2"x\n' >"$T/e3.csv"
t_expect_fail 1 "e3.csv:2: 'x' after a closing quote" ft-split --csv --train "$T/y.t" --val "$T/y.v" "$T/e3.csv"
printf 'a,a\n1,2\n' >"$T/e4.csv"
t_expect_fail 1 "e4.csv:1: column 'a' appears twice" ft-split --csv --train "$T/y.t" --val "$T/y.v" "$T/e4.csv"
printf 'a,\n1,2\n' >"$T/e5.csv"
t_expect_fail 1 "e5.csv:1: column 2 of the header has no name" ft-split --csv --train "$T/y.t" --val "$T/y.v" "$T/e5.csv"
printf 'ok\nline two \377\n' >"$T/e6.txt"
t_expect_fail 1 "e6.txt:2: invalid UTF-8 at byte 10" ft-split --lines --train "$T/y.t" --val "$T/y.v" "$T/e6.txt"
printf '[{"a":1},\n 2]' >"$T/e7.json"
t_expect_fail 1 "e7.json:2: element 2 of the array is not a JSON object" ft-split --train "$T/y.t" --val "$T/y.v" "$T/e7.json"
printf '[{"a":1},\n {"b" 2}]' >"$T/e8.json"
t_expect_fail 1 "e8.json:2: invalid JSON at byte" ft-split --train "$T/y.t" --val "$T/y.v" "$T/e8.json"
printf '{"a":1}' >"$T/e9.json"
t_expect_fail 1 "cannot open '$T/none.txt'" ft-split --lines --train "$T/y.t" --val "$T/y.v" "$T/e9.json" "$T/none.txt"
[ ! -e "$T/y.t" ] || t_fail "output written despite an error"
echo ok
