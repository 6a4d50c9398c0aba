#!/bin/sh
# Results that once came out silently wrong (issue 17): --max-new-tokens
# beyond the context says so; duplicate JSON keys take the last value, as
# Python's json does; JSON errors name their cause (a lone surrogate, too
# deep nesting, a line cut off by a concurrent writer).
. "$FT_TOP/tests/cli/lib.sh"
t_tmp
M=$FIX/sample/tiny

# --max-new-tokens past n_positions (48): one note, the text still comes
ft-sample -m "$M" --greedy --max-new-tokens 1000 hello >"$T/out" 2>"$T/err" ||
	t_fail "ft-sample"
[ -s "$T/out" ] || t_fail "no text"
grep -q "max-new-tokens 1000 does not fit: the prompt's [0-9]* tokens leave [0-9]* of the model's 48 positions" \
	"$T/err" || t_fail "no note: $(cat "$T/err")"
t_eq 1 "$(wc -l <"$T/err")" "note lines"
ft-sample -m "$M" --greedy --max-new-tokens 5 hello >/dev/null 2>"$T/err" ||
	t_fail "ft-sample 5"
[ ! -s "$T/err" ] || t_fail "a note without cause: $(cat "$T/err")"

# duplicate keys: the last, as json.loads
printf '{"text": "first", "id": 1, "text": "last"}\n' >"$T/dup.jsonl"
python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read())["text"])' \
	"$T/dup.jsonl" >"$T/py.txt" || t_fail "python3"
ft-tokenize -m "$M" --no-eos "$T/dup.jsonl" >"$T/dup.tok" || t_fail "ft-tokenize"
ft-tokenize -m "$M" -d "$T/dup.tok" >"$T/ft.txt" || t_fail "ft-tokenize -d"
echo >>"$T/ft.txt"
t_cmp "$T/py.txt" "$T/ft.txt"

# the causes of invalid JSON
printf '{"text": "a\\ud800b"}\n' >"$T/lone.jsonl"
t_expect_fail 1 "lone.jsonl:1: invalid JSON at byte [0-9]+ \(lone surrogate escape .ud800 at byte 12\)" \
	ft-clean "$T/lone.jsonl"
python3 -c 'print("{\"text\": \"x\", \"a\": " + "[" * 1200 + "]" * 1200 + "}")' >"$T/deep.jsonl"
t_expect_fail 1 "deep.jsonl:1: invalid JSON at byte [0-9]+ \(nested deeper than 1000 levels\)" \
	ft-clean "$T/deep.jsonl"
printf '{"text": "half of a li' >"$T/cut.jsonl"
t_expect_fail 1 "cut.jsonl:1: invalid JSON at byte [0-9]+ \(the line is cut off at the end of the input" \
	ft-clean "$T/cut.jsonl"
# a config.json cut off names it too
cp -r "$M" "$T/cm"
printf '{"n_layer": 1, "n_embd": 3' >"$T/cm/config.json"
t_expect_fail 1 "config.json: invalid JSON at line 1, column [0-9]+ \(the text ends early" \
	ft-sample -m "$T/cm" hello
exit 0
