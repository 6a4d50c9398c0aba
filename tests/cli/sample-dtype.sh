#!/bin/sh
# ft-sample --dtype bf16|int8: the tiny sample model decodes with 16- and
# 8-bit weights: deterministic text (same seed, any thread count: the
# quantised kernels' sums do not depend on threads), batches of samples,
# and the errors.  (Quality: tests/unit/test_model_quant.)
. "${FT_TOP:-.}/tests/cli/lib.sh"
t_tmp
M=$FIX/sample/tiny
P='Shall I compare thee'
for d in bf16 int8; do
	a=$(ft-sample -m "$M" --dtype $d --greedy --max-new-tokens 20 -j 1 "$P") ||
		t_fail "--dtype $d"
	b=$(ft-sample -m "$M" --dtype $d --greedy --max-new-tokens 20 -j 2 "$P") ||
		t_fail "--dtype $d -j 2"
	t_eq "$a" "$b" "--dtype $d greedy, 1 and 2 threads"
	[ -n "$a" ] || t_fail "--dtype $d: no text"
	ft-sample -m "$M" --dtype $d -n 8 --seed 3 --max-new-tokens 12 "$P" \
		>"$T/$d.1" || t_fail "--dtype $d -n 8"
	ft-sample -m "$M" --dtype $d -n 8 --seed 3 --max-new-tokens 12 "$P" \
		>"$T/$d.2" || t_fail "--dtype $d -n 8 again"
	t_cmp "$T/$d.1" "$T/$d.2"
done
f=$(ft-sample -m "$M" --dtype fp32 --greedy --max-new-tokens 20 -j 1 "$P")
t_eq "$f" "$(ft-sample -m "$M" --greedy --max-new-tokens 20 -j 1 "$P")" "--dtype fp32 is the default"
t_expect_fail 2 "invalid value 'int4' for --dtype" ft-sample -m "$M" --dtype int4 x
exit 0
