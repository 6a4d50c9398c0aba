#!/bin/sh
# ft-train: signals and --resume (issue 16, defects 2 and 5).  SIGINT,
# SIGTERM and SIGHUP each stop the run at the next step with a checkpoint,
# a note (not an error) and exit status 128 + the signal (130, 143, 129);
# a SIGHUP ignored at the start (nohup) stays ignored.  --resume takes the
# checkpoint's options: started with --epochs 3 --val V, resumed with only
# --train T -o RUN --resume, the run ends with the original max_steps and
# its evaluations, the same model as an uninterrupted run; an override is
# named in one note (old -> new), one that changes the data order is
# refused.
. "$FT_TOP/tests/cli/lib.sh"
t_tmp

t_sonnets_gpt2
head -n 140 "$SON" | ft-tokenize -m "$T/tok" >"$T/train.tok" || t_fail "tokenize"
tail -n 14 "$SON" | ft-tokenize -m "$T/tok" >"$T/val.tok" || t_fail "tokenize"
C="--init gpt2-micro --tokenizer-dir $T/tok --train $T/train.tok
--val $T/val.tok --lr 3e-3 --warmup-steps 2 --max-length 32 -j 1
--logging-steps 1"

# start_run NAME ARGS...: ft-train in the background with SIGINT at its
# default disposition (a shell's background job inherits it ignored)
start_run() {
	n=$1; shift
	python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execvp(sys.argv[1], sys.argv[1:])' ft-train "$@" -o "$T/$n" 2>"$T/$n.err" &
	pid=$!
}
# interrupted NAME SIGNAL STATUS: the run stopped as it should, or (it
# finished first) 1 to skip what depends on it
interrupted() {
	wait $pid
	rc=$?
	if [ $rc -eq 0 ]; then
		t_skip_part "$2: the run finished before the signal arrived"
		return 1
	fi
	[ $rc -eq "$3" ] || { cat "$T/$1.err"; t_fail "exit status $rc after $2, want $3"; }
	grep -q "^ft-train: note: interrupted by $2 at step [0-9]*$" "$T/$1.err" ||
		{ cat "$T/$1.err"; t_fail "$2: no note"; }
	grep -q "^ft-train: note: checkpoint-[0-9]* written; continue with --resume$" \
		"$T/$1.err" || { cat "$T/$1.err"; t_fail "$2: no checkpoint note"; }
	! grep -q "error" "$T/$1.err" || { cat "$T/$1.err"; t_fail "$2: reported as an error"; }
	ls -d "$T/$1"/checkpoint-* >/dev/null 2>&1 || t_fail "$2: no checkpoint"
	return 0
}

# the uninterrupted run
# shellcheck disable=SC2086
ft-train $C --epochs 3 --eval-steps 20 --save-steps 30 -q -o "$T/full" ||
	t_fail "ft-train full"
steps=$(sed -n 's/^  "max_steps": \([0-9]*\),$/\1/p' "$T/full/trainer_state.json")
[ "$steps" -gt 40 ] || t_fail "max_steps '$steps'"
evals=$(grep -c '"eval_loss"' "$T/full/metrics.jsonl")

# ---- SIGHUP; then --resume with only --train and -o ----
# shellcheck disable=SC2086
start_run hup $C --epochs 3 --eval-steps 20 --save-steps 30
t_wait_for "$T/hup/metrics.jsonl" '"step": 3}'
kill -HUP $pid
if interrupted hup SIGHUP 129; then
	cp -r "$T/hup" "$T/hup1"
	ft-train --train "$T/train.tok" -o "$T/hup" --resume 2>"$T/hup2.err" ||
		{ cat "$T/hup2.err"; t_fail "resume with the checkpoint's options"; }
	grep -q "max_steps differs\|resuming.*with its options but" "$T/hup2.err" &&
		{ cat "$T/hup2.err"; t_fail "a plain --resume reports overrides"; }
	grep -q "^  \"max_steps\": $steps,$" "$T/hup/trainer_state.json" ||
		t_fail "the resumed run forgot --epochs 3 (max_steps $steps)"
	t_eq "$evals" "$(grep -c '"eval_loss"' "$T/hup/metrics.jsonl")" \
		"evaluations of the resumed run (its --val)"
	# with the same thread count: the model of the uninterrupted run
	ft-train --train "$T/train.tok" -j 1 -q -o "$T/hup1" --resume ||
		t_fail "resume -j 1"
	t_cmp "$T/full/model.safetensors" "$T/hup1/model.safetensors"
fi

# ---- SIGINT (Ctrl-C): 130, so that `for ...; do ft-train ...; done` stops ----
# shellcheck disable=SC2086
start_run int $C --epochs 3 --eval-steps 20 --save-steps 30
t_wait_for "$T/int/metrics.jsonl" '"step": 3}'
kill -INT $pid
if interrupted int SIGINT 130; then
	# an override: one note naming it; more epochs: today's warning too
	ft-train --train "$T/train.tok" -o "$T/int" --resume --epochs 4 \
		--eval-steps 10 --lr 3e-3 -q 2>"$T/int2.err" ||
		{ cat "$T/int2.err"; t_fail "resume with overrides"; }
	! grep -q "resuming" "$T/int2.err" || { cat "$T/int2.err"; t_fail "-q: a note"; }
	ft-train --train "$T/train.tok" -o "$T/int" --resume --epochs 5 \
		--eval-steps 10 --lr 3e-3 2>"$T/int3.err" ||
		{ cat "$T/int3.err"; t_fail "resume with overrides"; }
	grep -q "^ft-train: resuming '.*checkpoint-[0-9]*' with its options but --epochs 4 -> 5$" \
		"$T/int3.err" || { cat "$T/int3.err"; t_fail "no override note"; }
	grep -q "max_steps differs from the checkpoint's" "$T/int3.err" ||
		{ cat "$T/int3.err"; t_fail "no max_steps warning"; }
	want=$(( steps * 5 / 3 ))
	grep -q "^  \"max_steps\": $want,$" "$T/int/trainer_state.json" ||
		t_fail "--epochs 5 on resume: max_steps is not $want"
	# what decides the data order cannot change
	t_expect_fail 1 "cannot resume with --batch-size 2: the checkpoint's run has batch_size 4" \
		ft-train --train "$T/train.tok" -o "$T/int" --resume --batch-size 2
	t_expect_fail 1 "cannot resume with --seed 7: the checkpoint's run has seed 42" \
		ft-train --train "$T/train.tok" -o "$T/int" --resume --seed 7
	# an override the best-model rules refuse (the restored eval steps)
	t_expect_fail 2 "round multiple.*--save-steps 7 is not a multiple of --eval-steps 10" \
		ft-train --train "$T/train.tok" -o "$T/int" --resume \
		--load-best-model-at-end --save-steps 7
fi

# ---- SIGTERM ----
# shellcheck disable=SC2086
start_run term $C --epochs 3 --eval-steps 20 --save-steps 30
t_wait_for "$T/term/metrics.jsonl" '"step": 3}'
kill -TERM $pid
interrupted term SIGTERM 143 || :

# ---- nohup: SIGHUP ignored at the start stays ignored ----
# shellcheck disable=SC2086
nohup ft-train $C --max-steps 30 --eval-steps 0 --save-steps 0 -q \
	-o "$T/nohup" >"$T/nohup.out" 2>"$T/nohup.err" &
pid=$!
t_wait_for "$T/nohup/metrics.jsonl" '"step": 3}'
kill -HUP $pid
wait $pid || { cat "$T/nohup.err"; t_fail "nohup ft-train stopped on SIGHUP"; }
[ -s "$T/nohup/model.safetensors" ] || t_fail "nohup: no model"

# --train is required unless the checkpoint names it
t_expect_fail 2 "--train" ft-train -o "$T/none"
exit 0
