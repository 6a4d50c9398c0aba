#!/bin/sh
# The README's two commands in the README's order: `make demo`, then
# `make check`.  A fresh clone is made of the tree (its tracked files and
# the new ones git does not ignore, committed in a new repository), a
# finished demo is simulated there (`make -t` marks every output of
# examples/sonnets up to date, as a real run leaves them, plus a stray
# file), then the tests that look at examples/sonnets run there.
. "${FT_TOP:-.}/tests/cli/lib.sh"
t_tmp
git -C "$TOP" rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
	t_skip "not a git checkout (the copy is made of the tracked files)"
C=$T/clone
mkdir "$C"
(cd "$TOP" && git ls-files -z --cached --others --exclude-standard |
	xargs -0 cp --parents -t "$C") || t_fail "copying the tree"
(cd "$C" && git init -q && git add -A &&
	git -c user.name=t -c user.email=t@t commit -qm tree) || t_fail "git commit in the copy"
ex=$C/examples/sonnets
mk() { env -u MAKEFLAGS -u MAKELEVEL make -s -C "$ex" OFFLINE=1 FT_BIN="$FT_BIN" "$@"; }
mkdir -p "$ex/npm" "$ex/run" "$ex/model-offline"
mk -t all >/dev/null || t_fail "make -t (simulating a finished demo)"
echo "a user's notes" >"$ex/notes.txt"
[ -f "$ex/run/model.safetensors" ] && [ -f "$ex/samples.txt" ] || t_fail "no simulated outputs"
# the simulation is a finished demo: nothing left to do
mk -n all >"$T/plan0" || t_fail "make -n after the demo"
! grep -q "ft-train" "$T/plan0" || t_fail "the simulated demo is not finished"
FT_TOP=$C sh "$C/tests/cli/demo-plan.sh" || t_fail "tests/cli/demo-plan.sh after make demo"
