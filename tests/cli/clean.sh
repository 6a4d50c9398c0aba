#!/bin/sh
# ft-clean: Python-identical cleaning on a Unicode-heavy corpus (fixtures
# from tests/ref/clean_ref.py), byte preservation, and every error path.
. "$FT_TOP/tests/cli/lib.sh"
t_tmp
F=$FIX/clean
t_help_and_man ft-clean

# Each option set of tests/ref/clean_ref.py against Python's output.
tab=$(printf '\t')
while IFS= read -r line; do
	set -f
	oldifs=$IFS; IFS=$tab
	# shellcheck disable=SC2086
	set -- $line
	IFS=$oldifs; set +f
	name=$1; shift
	ft-clean "$@" "$F/corpus.jsonl" >"$T/$name.out" || t_fail "ft-clean $name"
	t_cmp "$F/$name.out" "$T/$name.out"
done <"$F/options.txt"

# stdin, -o (atomic), several inputs, -v counts
head -n 50 "$F/corpus.jsonl" >"$T/a.jsonl"
tail -n +51 "$F/corpus.jsonl" >"$T/b.jsonl"
ft-clean --lower --strip --append '<|eos|>' -o "$T/ab.out" "$T/a.jsonl" - <"$T/b.jsonl" ||
	t_fail "two inputs"
t_cmp "$F/lower_strip_eos.out" "$T/ab.out"
ft-clean -v --strip --drop-empty --min-chars 3 --max-chars 40 --dedupe \
	<"$F/corpus.jsonl" >"$T/f.out" 2>"$T/f.err" || t_fail "filters -v"
t_cmp "$F/filters.out" "$T/f.out"
grep -Eq '^ft-clean: 400 records read, [0-9]+ written, [0-9]+ dropped \([0-9]+ empty, [0-9]+ short, [0-9]+ long, [0-9]+ duplicate\)$' "$T/f.err" ||
	{ cat "$T/f.err"; t_fail "-v counts"; }

# Only the text value changes; other bytes (spacing, number forms, escapes,
# a nested "text", CRLF) are kept; an unchanged text keeps its escapes.
printf '%s\n' \
	'{ "meta" : {"text": "NESTED"}, "id" : 1 , "text" : "  \u00c9T\u00c9\t" , "x": 1.50e0 }' \
	'{"text":"\u00e9t\u00e9","n":-0.0}' \
	'{"text":"A\"B\\C\u0001","z":[1,{"a":"b"}]}' >"$T/s.jsonl"
printf '{"text":"X"}\r\n' >>"$T/s.jsonl"
printf '%s\n' \
	'{ "meta" : {"text": "NESTED"}, "id" : 1 , "text" : "été" , "x": 1.50e0 }' \
	'{"text":"\u00e9t\u00e9","n":-0.0}' \
	'{"text":"a\"b\\c\u0001","z":[1,{"a":"b"}]}' >"$T/s.want"
printf '{"text":"x"}\r\n' >>"$T/s.want"
ft-clean --lower --strip <"$T/s.jsonl" >"$T/s.out" || t_fail "special"
t_cmp "$T/s.want" "$T/s.out"
# \u0000 inside a text survives
printf '{"text":"A\\u0000B"}\n' | ft-clean --lower >"$T/nul.out" || t_fail nul
t_eq '{"text":"a\u0000b"}' "$(cat "$T/nul.out")" "NUL text"

# The notebook: text.lower().strip() + "<|eos|>" on the sonnets, checked
# by Python (stdlib only) on the parsed texts.
S=$(t_shared)
if [ -n "$S" ] && command -v python3 >/dev/null; then
	ft-clean --lower --strip --append '<|eos|>' "$S/sonnets.jsonl" >"$T/son.out" ||
		t_fail "sonnets"
	python3 - "$S/sonnets.jsonl" "$T/son.out" <<'PY' || t_fail "sonnets differ from Python"
import json, sys
a = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
b = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
assert len(a) == len(b), (len(a), len(b))
for x, y in zip(a, b):
    x["text"] = x["text"].lower().strip() + "<|eos|>"
    assert x == y, (x, y)
PY
else
	t_skip_part "the sonnets against Python: no ../shared or no python3"
fi

# Errors: one line naming FILE:LINE, exit 1; nothing left at -o.
printf '{"text":"a"}\n{"text":"b",}\n' >"$T/e1.jsonl"
t_expect_fail 1 "^ft-clean: error: .*e1.jsonl:2: invalid JSON" ft-clean -o "$T/o" "$T/e1.jsonl"
[ ! -e "$T/o" ] || t_fail "output left after an error"
printf '\n"just a string"\n' >"$T/e2.jsonl"
t_expect_fail 1 "e2.jsonl:2: not a JSON object" ft-clean "$T/e2.jsonl"
printf '{"id":1}\n' >"$T/e3.jsonl"
t_expect_fail 1 "e3.jsonl:1: field 'text' is missing \\(the record has 'id'; --field NAME reads another\\)" ft-clean "$T/e3.jsonl"
printf '{"id":1,"content":"a","meta":{}}\n' >"$T/e3b.jsonl"
t_expect_fail 1 "field 'text' is missing \\(the record has 'id', 'content', 'meta'; --field" ft-clean "$T/e3b.jsonl"
printf '{}\n' >"$T/e3c.jsonl"
t_expect_fail 1 "field 'text' is missing \\(the record has no fields\\)" ft-clean "$T/e3c.jsonl"
printf '{"text":"a","title":7}\n' >"$T/e4.jsonl"
t_expect_fail 1 "e4.jsonl:1: field 'title' is not a string" ft-clean --field title "$T/e4.jsonl"
printf '{"text":null}\n' >"$T/e5.jsonl"
t_expect_fail 1 "e5.jsonl:1: field 'text' is not a string" ft-clean "$T/e5.jsonl"
printf '{"text":"ok"}\n{"text":"\300\257"}\n' >"$T/e6.jsonl"
t_expect_fail 1 "e6.jsonl:2: invalid UTF-8 at byte 10" ft-clean -o "$T/o" "$T/e6.jsonl"
printf '{"text":"\\ud800"}\n' >"$T/e7.jsonl"
t_expect_fail 1 "e7.jsonl:1: invalid JSON" ft-clean "$T/e7.jsonl"
t_expect_fail 1 "<stdin>:1: invalid JSON" sh -c 'echo "{" | ft-clean'
t_expect_fail 1 "cannot open '$T/none.jsonl'" ft-clean "$T/none.jsonl"
t_expect_fail 1 "cannot create a temporary file for '$T/no/dir/o'" \
	ft-clean -o "$T/no/dir/o" "$F/corpus.jsonl"
t_expect_fail 1 "<stdout>: write failed" sh -c "ft-clean '$F/corpus.jsonl' >/dev/full"
t_expect_fail 2 "--min-chars: 'x' is not a number" ft-clean --min-chars x
t_expect_fail 2 "--max-chars: '-1' must be at least 0" ft-clean --max-chars -1
t_expect_fail 2 "above --max-chars" ft-clean --min-chars 5 --max-chars 2
t_expect_fail 2 "--append: argument is not valid UTF-8" ft-clean --append "$(printf '\377')"
t_expect_fail 2 "option '--field' needs an argument" ft-clean --field
t_expect_fail 2 "empty field name" ft-clean --field ''
echo ok
