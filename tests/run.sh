#!/bin/sh
# Test runner: every unit test binary, every tests/cli/*.sh, the man page
# lint, and (without SAN) each fuzzer briefly on its seed corpus.
# Prints one line per test and ends with "N passed, N failed, N skipped".
# Run through `make check`, which sets FT_BIN, FT_BUILD, FT_FUZZ, FT_SAN.
# Environment: FT_TESTS="pattern" runs only tests whose name matches.
#
# Skips are visible, never a PASS:
#   - a test (script or unit binary) that exits 77 did not run: SKIP, with
#     the last line of its output as the reason (tests/cli/lib.sh: t_skip);
#   - a test that passes but could not run a part prints a line
#     "SKIP part: REASON" for each such part (t_skip_part; in C, a printf):
#     its PASS line says how many, the lines follow, and the summary counts
#     them ("N parts skipped").

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
: "${FT_BIN:?run through make check}"
: "${FT_BUILD:?run through make check}"
export FT_BIN FT_BUILD FT_SAN FT_TOP="$top"
export PATH="$FT_BIN:$PATH"
export LC_ALL=C.UTF-8
# Never touch the user's real Hub cache from tests.
export HF_HOME="$FT_BUILD/test-hf-home"
unset HF_TOKEN HUGGING_FACE_HUB_TOKEN HF_HUB_CACHE HUGGINGFACE_HUB_CACHE HF_ENDPOINT FT_MODEL
# Sanitizers: fail on leaks too; detect_leaks needs ptrace (fine as root).
export ASAN_OPTIONS="abort_on_error=0:detect_leaks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

pass=0 fail=0 skip=0 parts=0 failed=""
logdir="$FT_BUILD/test-logs"
rm -rf "$logdir"; mkdir -p "$logdir"

run_one() { # name, command...
	name=$1; shift
	case "$name" in *${FT_TESTS:-}*) ;; *) return ;; esac
	log="$logdir/$(echo "$name" | tr '/ ' '__').log"
	start=$(date +%s)
	"$@" >"$log" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1))
		np=$(grep -c '^SKIP part: ' "$log")
		if [ "$np" -eq 0 ]; then
			printf 'PASS %-40s %3ss\n' "$name" $(( $(date +%s) - start ))
		else
			parts=$((parts + np))
			printf 'PASS %-40s %3ss, %d part(s) skipped\n' "$name" \
			    $(( $(date +%s) - start )) "$np"
			grep '^SKIP part: ' "$log" | sed 's/^/    /'
		fi
	elif [ $rc -eq 77 ]; then
		skip=$((skip + 1))
		printf 'SKIP %-40s %s\n' "$name" "$(tail -n 1 "$log" | sed 's/^SKIP: //')"
	else
		fail=$((fail + 1)); failed="$failed $name"
		printf 'FAIL %-40s (log: %s)\n' "$name" "$log"
		tail -n 25 "$log" | sed 's/^/    /'
	fi
}

for t in "$FT_BUILD"/tests/test_*; do
	[ -x "$t" ] || continue
	case "$t" in *.o|*.d) continue ;; esac
	run_one "unit/$(basename "$t")" "$t"
done

for t in tests/cli/*.sh; do
	[ -f "$t" ] || continue
	case "$(basename "$t")" in lib.sh) continue ;; esac
	run_one "cli/$(basename "$t" .sh)" sh "$t"
done

run_one "man/lint" sh -c 'out=$(mandoc -Tlint -Wwarning man/* 2>&1); [ -z "$out" ] || { echo "$out"; exit 1; }'

if [ -n "${FT_FUZZ:-}" ]; then
	for f in "$FT_FUZZ"/fuzz_*; do
		[ -x "$f" ] || continue
		n=$(basename "$f")
		corpus=tests/fuzz/corpus/$n
		work="$FT_BUILD/fuzz-run/$n"; rm -rf "$work"; mkdir -p "$work"
		run_one "fuzz/$n" "$f" -max_total_time=5 -timeout=10 -rss_limit_mb=2048 "$work" "$corpus"
	done
fi

echo
[ $fail -eq 0 ] || echo "failed:$failed"
if [ $parts -eq 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed, $skip skipped, $parts parts skipped"
fi
[ $fail -eq 0 ]
