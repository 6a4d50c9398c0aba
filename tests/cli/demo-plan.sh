#!/bin/sh
# The demo's Makefile (examples/sonnets) parses and `make -n clean all`
# plans the whole pipeline.  Only the files git tracks are copied, so what
# the working tree holds (a finished `make demo`: sonnets.jsonl, run/, ...)
# cannot change the plan; tests/cli/demo-order.sh checks that.
. "${FT_TOP:-.}/tests/cli/lib.sh"
t_tmp
mkdir "$T/ex"
if git -C "$TOP" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	(cd "$TOP/examples/sonnets" && git ls-files -z . | xargs -0 cp --parents -t "$T/ex") ||
		t_fail "copying the tracked files of examples/sonnets"
else
	# not a git checkout (an exported tree): copy, then drop the outputs
	cp -r "$TOP/examples/sonnets/." "$T/ex/" &&
		env -u MAKEFLAGS -u MAKELEVEL make -s -C "$T/ex" clean OFFLINE=1 FT_BIN="$FT_BIN" ||
		t_fail "copying examples/sonnets"
fi
[ -f "$T/ex/Makefile" ] || t_fail "examples/sonnets/Makefile is not tracked"
env -u MAKEFLAGS -u MAKELEVEL make -s -n -C "$T/ex" clean all OFFLINE=1 FT_BIN="$FT_BIN" >"$T/plan" ||
	t_fail "make -n examples/sonnets"
for tool in ft-split ft-clean ft-tokenize ft-train ft-sample; do
	grep -q "$tool" "$T/plan" || t_fail "the demo plan lacks $tool"
done
