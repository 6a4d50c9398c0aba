#!/bin/sh
# tests/run.sh itself: exit 77 is SKIP with its reason (scripts and unit
# binaries alike), "SKIP part:" lines of a passing test are listed and
# counted, and the summary says "N passed, N failed, N skipped".
. "${FT_TOP:-.}/tests/cli/lib.sh"
t_tmp
R=$T/tree
mkdir -p "$R/tests/cli" "$R/man" "$R/build/tests"
cp "$TOP/tests/run.sh" "$TOP/tests/cli/lib.sh" "$R/tests/"
mv "$R/tests/lib.sh" "$R/tests/cli/lib.sh"
cp "$TOP/man/ft.7" "$R/man/"
cat >"$R/tests/cli/ok.sh" <<'SH'
. "$FT_TOP/tests/cli/lib.sh"
echo fine
SH
cat >"$R/tests/cli/part.sh" <<'SH'
. "$FT_TOP/tests/cli/lib.sh"
t_skip_part "the big corpus: not present"
t_skip_part "the other corpus: not present"
SH
cat >"$R/tests/cli/whole.sh" <<'SH'
. "$FT_TOP/tests/cli/lib.sh"
echo "looking for data"
t_skip "no data to test with"
SH
cat >"$R/tests/cli/bad.sh" <<'SH'
. "$FT_TOP/tests/cli/lib.sh"
t_fail "it broke"
SH
printf '#!/bin/sh\necho "no bf16 support on this CPU"\nexit 77\n' >"$R/build/tests/test_skip"
chmod +x "$R/build/tests/test_skip"

env -u FT_TESTS FT_BIN="$FT_BIN" FT_BUILD="$R/build" FT_FUZZ= \
	sh "$R/tests/run.sh" >"$T/out" 2>&1
rc=$?
cat "$T/out"
t_eq 1 "$rc" "exit status with a failing test"
grep -q '^SKIP unit/test_skip  *no bf16 support on this CPU$' "$T/out" ||
	t_fail "unit binary exit 77 is not SKIP with its reason"
grep -q '^SKIP cli/whole  *no data to test with$' "$T/out" ||
	t_fail "script exit 77 is not SKIP with its reason"
grep -q '^PASS cli/part .* 2 part(s) skipped$' "$T/out" || t_fail "parts not counted"
grep -q '^    SKIP part: the big corpus: not present$' "$T/out" || t_fail "part reason not shown"
grep -q '^PASS cli/ok ' "$T/out" || t_fail "plain pass"
grep -q '^FAIL cli/bad ' "$T/out" || t_fail "plain fail"
grep -q '^PASS man/lint ' "$T/out" || t_fail "man lint"
t_eq "3 passed, 1 failed, 2 skipped, 2 parts skipped" "$(tail -n 1 "$T/out")" "summary"

# Without parts skipped or failures: the short summary, exit 0.
rm "$R/tests/cli/bad.sh" "$R/tests/cli/part.sh"
env -u FT_TESTS FT_BIN="$FT_BIN" FT_BUILD="$R/build" FT_FUZZ= \
	sh "$R/tests/run.sh" >"$T/out2" 2>&1 || { cat "$T/out2"; t_fail "run.sh failed"; }
t_eq "2 passed, 0 failed, 2 skipped" "$(tail -n 1 "$T/out2")" "summary"
