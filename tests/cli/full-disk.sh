#!/bin/sh
# Every tool whose product goes to stdout fails on a full disk (/dev/full)
# with exit 1 and exactly one line on stderr, however many layers saw the
# write error.
. "${FT_TOP:-.}/tests/cli/lib.sh"
t_tmp
[ -w /dev/full ] || t_skip "no /dev/full"
TOKDIR=$(sh "$TOP/tests/get-gpt2-tokenizer.sh") || t_fail "no GPT-2 tokenizer"
i=0
while [ $i -lt 2000 ]; do
	echo "{\"id\":$i,\"text\":\"Shall I compare thee to a summer's day? $i\"}"
	i=$((i + 1))
done >"$T/in.jsonl"
ft-tokenize -m "$TOKDIR" <"$T/in.jsonl" >"$T/in.tok" || t_fail "tokenize"

full() { # what, command...: stdout to /dev/full
	what=$1; shift
	"$@" >/dev/full 2>"$T/err"
	rc=$?
	[ $rc -eq 1 ] || t_fail "$what: exit $rc on a full disk, want 1"
	[ "$(wc -l <"$T/err")" -eq 1 ] || { cat "$T/err" >&2; t_fail "$what: want one line on stderr"; }
	grep -q 'No space left on device' "$T/err" || { cat "$T/err" >&2; t_fail "$what: no reason given"; }
}
full ft-clean ft-clean --lower "$T/in.jsonl"
full ft-split ft-split --train - --val "$T/val.jsonl" "$T/in.jsonl"
full ft-tokenize ft-tokenize -m "$TOKDIR" "$T/in.jsonl"
full "ft-tokenize --decode" ft-tokenize --decode -m "$TOKDIR" "$T/in.tok"
full "ft-tokenize --decode --jsonl" ft-tokenize --decode --jsonl -m "$TOKDIR" "$T/in.tok"
