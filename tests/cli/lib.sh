# Helpers for tests/cli/*.sh (sourced).  Each CLI test is a plain sh script
# that exits non-zero on the first failed expectation, printing why.
#
#   t_tmp                      make $T, a fresh scratch folder (removed at exit)
#   t_expect_fail CODE 'regex' cmd...   cmd must exit CODE and print a line
#                                       matching regex on stderr, nothing on stdout
#   t_cmp expected actual      files must be byte-identical
#   t_eq "a" "b" what          strings must be equal
#   t_shared                   path of ../shared/data or empty
#   t_skip 'reason'            the whole test cannot run: SKIP (exit 77)
#   t_skip_part 'reason'       a part was not run; tests/run.sh reports it
#   t_sonnets_gpt2             SON (the sonnets JSONL) and $T/tok (the GPT-2
#                              tokenizer files): ../shared, else npm
#   t_wait_for file 'regex'    poll (60 s at most) until file matches
set -u
: "${FT_BIN:?run through make check}"
PATH="$FT_BIN:$PATH"
TOP=${FT_TOP:-$(pwd)}
FIX=$TOP/tests/fixtures

t_fail() { echo "FAIL: $*" >&2; exit 1; }

t_tmp() {
	T=$(mktemp -d "${TMPDIR:-/tmp}/ft-test.XXXXXX")
	trap 'rm -rf "$T"' EXIT
}

t_expect_fail() {
	code=$1 re=$2; shift 2
	"$@" >"$T/.out" 2>"$T/.err" </dev/null
	rc=$?
	[ "$rc" -eq "$code" ] || { cat "$T/.err" >&2; t_fail "'$*' exited $rc, want $code"; }
	grep -Eq -- "$re" "$T/.err" || { cat "$T/.err" >&2; t_fail "'$*': stderr does not match /$re/"; }
	[ "$(wc -l <"$T/.err")" -le 2 ] || { cat "$T/.err" >&2; t_fail "'$*': error is not one line"; }
	[ ! -s "$T/.out" ] || t_fail "'$*': wrote to stdout on failure"
}

t_cmp() {
	cmp -s "$1" "$2" || { diff "$1" "$2" | head -20 >&2; t_fail "$2 differs from $1"; }
}

t_eq() {
	[ "$1" = "$2" ] || t_fail "${3:-value}: got '$2', want '$1'"
}

# tests/run.sh: exit 77 is SKIP (the last line is the reason); a line
# "SKIP part: REASON" marks a part of a passing test that did not run.
t_skip() { echo "SKIP: $*"; exit 77; }
t_skip_part() { echo "SKIP part: $*"; }

t_sonnets_gpt2() {
	SON=$(sh "$TOP/tests/get-sonnets.sh") || t_fail "no sonnets (../shared or npm)"
	TOKDIR=$(sh "$TOP/tests/get-gpt2-tokenizer.sh") || t_fail "no GPT-2 tokenizer"
	mkdir "$T/tok"
	cp "$TOKDIR/vocab.json" "$TOKDIR/merges.txt" "$T/tok/"
}

t_wait_for() {
	_i=0
	while ! grep -q "$2" "$1" 2>/dev/null; do
		_i=$((_i + 1)); [ $_i -lt 600 ] || t_fail "timeout waiting for $1"
		sleep 0.1
	done
}

t_shared() {
	if [ -d "$TOP/../shared/data" ]; then (cd "$TOP/../shared/data" && pwd); fi
}

# Start tests/hub/server.py on ROOT (a loopback Hub, CDN and dataset
# viewer); sets S (its state folder), SRV (pid), HP and CP (Hub and CDN
# ports), exports HF_ENDPOINT and HF_DATASETS_SERVER_URL, and stops the
# server at exit.  Needs t_tmp first.
t_hub_start() {
	S=$T/srv
	mkdir -p "$S"
	: >"$S/log"
	python3 "$TOP/tests/hub/server.py" "$1" "$S" &
	SRV=$!
	trap 'kill $SRV 2>/dev/null; wait $SRV 2>/dev/null; rm -rf "$T"' EXIT
	trap 'exit 1' INT TERM HUP
	i=0
	while [ ! -s "$S/ports" ]; do
		i=$((i + 1))
		[ $i -lt 200 ] || t_fail "the test server did not start"
		sleep 0.05
	done
	read -r HP CP <"$S/ports"
	export HF_ENDPOINT=http://127.0.0.1:$HP HF_DATASETS_SERVER_URL=http://127.0.0.1:$HP
}

# Every long option printed by --help appears in the man page, and
# --version/--help exit 0 with output on stdout only.
t_help_and_man() {
	tool=$1
	"$tool" --help >"$T/.help" 2>"$T/.herr" || t_fail "$tool --help failed"
	[ -s "$T/.help" ] && [ ! -s "$T/.herr" ] || t_fail "$tool --help: want stdout only"
	"$tool" --version | grep -q "$tool" || t_fail "$tool --version"
	page=$TOP/man/$tool.1
	[ -f "$page" ] || t_fail "no man page $page"
	for o in $(grep -o -- '--[a-z][a-z0-9-]*' "$T/.help" | sort -u); do
		grep -q -- "${o#--}" "$page" || t_fail "$tool: $o not in $page"
	done
	t_expect_fail 2 "unrecognized|invalid|unknown" "$tool" --no-such-option
}
