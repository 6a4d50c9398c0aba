#!/bin/sh
# ft-train under mpirun (lib/dist.h): 2 ranks x batch 2 equal 1 process x
# batch 4 (parameters within 1e-5 after steps with warmup, decay, clipping,
# and the evaluation), as do 2 ranks x 1 x 2 accumulated, and 3 ranks x 1
# equal 1 x 3; the PyTorch reference of 2 processes x batch 2
# (tests/fixtures/train/e2e/d1, accelerate's shards, the padded last round);
# a repeat is bit-identical; resume under mpirun is bit-identical, resume
# with another N works and says so; a rank given other flags or data
# refuses; a killed rank ends the job non-zero within seconds and the last
# checkpoint resumes.  The two-host run is tests/cli/mpi-net.sh.
. "$FT_TOP/tests/cli/lib.sh"
t_tmp
# the long-running jobs below ($mp): stopped if this script is
mp=""
trap 'if [ -n "$mp" ]; then kill "$mp" 2>/dev/null; wait "$mp" 2>/dev/null; fi; rm -rf "$T"' EXIT
trap 'exit 1' INT TERM HUP
command -v mpirun >/dev/null || { echo "SKIP: no mpirun (openmpi-bin)"; exit 77; }
# root is fine here; Open MPI's leaks are not ft's (SAN=1)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0"
mpr() { # NP args...: one thread per rank, no core binding (2-core machine)
	np=$1; shift
	mpirun -np "$np" --oversubscribe --bind-to none "$@"
}

E=$FIX/train/e2e
tool=$FT_BUILD/tests/test_tokfile
[ -x "$tool" ] || t_fail "no $tool (run through make check)"
"$tool" write "$T/train.tok" 50 49 <"$E/train.txt" || t_fail "tok"
"$tool" write "$T/val.tok" 50 49 <"$E/val.txt" || t_fail "tok"
# 8 documents: two global batches of 4, no padded round
head -n 8 "$E/train.txt" | "$tool" write "$T/train8.tok" 50 49 || t_fail "tok"
A="-m $E --no-tokenizer --val $T/val.tok --max-length 12 --dropout 0 --logging-steps 1 -j 1 -q"
nolog() { grep -v '"eval_loss"\|"train_loss"' "$1"; }

# ---- the PyTorch reference of 2 processes x batch 2 ----
# shellcheck disable=SC2046,SC2086
mpr 2 ft-train $A --train "$T/train.tok" $(cat "$E/d1.args") \
	--save-steps 0 -o "$T/d1" || t_fail "mpirun ft-train d1"
python3 "$TOP/tests/cli/expect.py" "$E/d1.expect.jsonl" "$T/d1/metrics.jsonl" ||
	t_fail "2 ranks differ from tests/fixtures/train/e2e/d1.expect.jsonl"

# ---- 2 ranks x batch 2 = 1 process x batch 4 ----
# --adam-eps 1e-4: the key third of c_attn.bias has a zero gradient in
# exact arithmetic (softmax ignores a shift), so its float gradient is
# rounding noise (~1e-10) that AdamW with eps 1e-8 turns into full steps of
# random sign; any reassociation (4 rows in one process, 2 + 2 across
# ranks) flips them.  With eps 1e-4 the noise moves nothing and every
# real gradient (>= 1e-3 here) still takes Adam steps.
B="$A --train $T/train8.tok --epochs 3 --warmup-steps 2 --lr 0.01
--max-grad-norm 1.0 --weight-decay 0.1 --adam-eps 1e-4 --eval-steps 2
--save-steps 3"
# shellcheck disable=SC2086
ft-train $B --batch-size 4 -o "$T/one" || t_fail "ft-train batch 4"
# shellcheck disable=SC2086
mpr 2 ft-train $B --batch-size 2 -o "$T/two" || t_fail "mpirun ft-train"
grep -q '"grad_norm": [1-9]' "$T/one/metrics.jsonl" || t_fail "no step was clipped"
python3 "$TOP/tests/cli/stcmp.py" "$T/one/model.safetensors" \
	"$T/two/model.safetensors" 1e-5 || t_fail "2 x 2 differs from 1 x 4"
python3 - "$T/one/metrics.jsonl" "$T/two/metrics.jsonl" <<'PY' ||
import json, sys
a, b = ([json.loads(l) for l in open(p)] for p in sys.argv[1:])
assert len(a) == len(b), "entry count"
for x, y in zip(a, b):
    for k in ("loss", "grad_norm", "eval_loss", "learning_rate", "epoch"):
        if k in x:
            assert abs(x[k] - y[k]) <= 1e-5 * max(abs(x[k]), 1e-9), (k, x, y)
PY
	t_fail "2 x 2 metrics differ from 1 x 4"

# 3 ranks x batch 1 = 1 process x batch 3 (the gradient slices of unequal
# length; 9 of the 11 samples, no padded round); the evaluation is exact
C3="$A --train $T/train.tok --max-steps 3 --warmup-steps 1 --lr 0.01
--adam-eps 1e-4 --eval-steps 3 --save-steps 0"
# shellcheck disable=SC2086
ft-train $C3 --batch-size 3 -o "$T/p1" || t_fail "ft-train batch 3"
# shellcheck disable=SC2086
mpr 3 ft-train $C3 --batch-size 1 -o "$T/p3" || t_fail "mpirun -np 3"
python3 "$TOP/tests/cli/stcmp.py" "$T/p1/model.safetensors" \
	"$T/p3/model.safetensors" 1e-5 || t_fail "3 x 1 differs from 1 x 3"
t_eq "$(grep -o '"eval_loss": [^,]*' "$T/p1/metrics.jsonl")" \
	"$(grep -o '"eval_loss": [^,]*' "$T/p3/metrics.jsonl")" "sharded eval_loss"

# with accumulation: 2 ranks x batch 1 x 2 accumulated = 1 x batch 4
# shellcheck disable=SC2086
mpr 2 ft-train $B --batch-size 1 --grad-accum 2 -o "$T/ga" || t_fail "mpirun --grad-accum"
python3 "$TOP/tests/cli/stcmp.py" "$T/one/model.safetensors" \
	"$T/ga/model.safetensors" 1e-5 || t_fail "2 x 1 x 2 differs from 1 x 4"

# ---- --load-best-model-at-end and early stopping: rank 0 decides, the
# ranks agree, 2 x 2 ends with the checkpoint and model of 1 x 4 ----
# shellcheck disable=SC2086
ft-train $B --batch-size 4 --epochs 6 --save-steps 2 --load-best-model-at-end \
	--early-stopping-patience 1 -o "$T/best1" || t_fail "ft-train best"
# shellcheck disable=SC2086
mpr 2 ft-train $B --batch-size 2 --epochs 6 --save-steps 2 --load-best-model-at-end \
	--early-stopping-patience 1 -o "$T/best2" || t_fail "mpirun ft-train best"
for k in best_model_checkpoint global_step early_stopping_patience_counter; do
	t_eq "$(grep "\"$k\"" "$T/best1/trainer_state.json" | sed "s|$T/best1||")" \
		"$(grep "\"$k\"" "$T/best2/trainer_state.json" | sed "s|$T/best2||")" "2 x 2 $k"
done
b=$(sed -n 's/.*"best_model_checkpoint": ".*checkpoint-\([0-9]*\)".*/\1/p' "$T/best2/trainer_state.json")
[ -n "$b" ] || t_fail "no best_model_checkpoint under mpirun"
t_cmp "$T/best2/checkpoint-$b/model.safetensors" "$T/best2/model.safetensors"
python3 "$TOP/tests/cli/stcmp.py" "$T/best1/model.safetensors" \
	"$T/best2/model.safetensors" 1e-5 || t_fail "best: 2 x 2 differs from 1 x 4"

# ---- bit-identical repeat; resume under mpirun ----
# shellcheck disable=SC2086
mpr 2 ft-train $B --batch-size 2 -o "$T/two2" || t_fail "mpirun repeat"
t_cmp "$T/two/model.safetensors" "$T/two2/model.safetensors"
t_cmp "$T/two/checkpoint-3/optimizer.safetensors" \
	"$T/two2/checkpoint-3/optimizer.safetensors"
nolog "$T/two/metrics.jsonl" >"$T/m1"
nolog "$T/two2/metrics.jsonl" >"$T/m2"
t_cmp "$T/m1" "$T/m2"
cp -r "$T/two" "$T/res"
# shellcheck disable=SC2086
mpr 2 ft-train $B --batch-size 2 -o "$T/res" --resume "$T/res/checkpoint-3" ||
	t_fail "mpirun --resume"
t_cmp "$T/two/model.safetensors" "$T/res/model.safetensors"
nolog "$T/res/metrics.jsonl" >"$T/m3"
t_cmp "$T/m1" "$T/m3"
# another N: resumes, warns once
cp -r "$T/two" "$T/res1"
# shellcheck disable=SC2086
ft-train $B --batch-size 2 -o "$T/res1" --resume "$T/res1/checkpoint-3" \
	2>"$T/res1.err" || { cat "$T/res1.err"; t_fail "resume with 1 process"; }
grep -q 'world_size differs' "$T/res1.err" || t_fail "no world_size warning"
[ -s "$T/res1/model.safetensors" ] || t_fail "resume with 1 process: no model"

# ---- a rank with other flags or data refuses (one line) ----
# shellcheck disable=SC2086
mpirun -np 1 --oversubscribe ft-train $B --batch-size 2 -o "$T/bad" : \
	-np 1 --oversubscribe ft-train $B --batch-size 2 --seed 7 -o "$T/bad" \
	>"$T/bad.out" 2>"$T/bad.err" && t_fail "other flags accepted"
[ "$(grep -c '^ft-train' "$T/bad.err")" = 1 ] || { cat "$T/bad.err"; t_fail "not one line"; }
grep -q '^ft-train (rank 1): error: its flags differ from rank 0' "$T/bad.err" ||
	{ cat "$T/bad.err"; t_fail "other flags: message"; }
[ ! -e "$T/bad/metrics.jsonl" ] || t_fail "refused run wrote metrics"
cp "$T/val.tok" "$T/v2.tok"
printf '1 2 3 49\n' | "$tool" write "$T/v3.tok" 50 49
mkdir "$T/d"; ln -s "$T/val.tok" "$T/d/v.tok"
mkdir "$T/e"; ln -s "$T/v3.tok" "$T/e/v.tok"
# the same flags (a relative path), other bytes on rank 1
(cd "$T/d" && mpirun -np 1 --oversubscribe ft-train $B --batch-size 2 --val v.tok -o "$T/bad2" : \
	-np 1 --oversubscribe --wdir "$T/e" ft-train $B --batch-size 2 --val v.tok -o "$T/bad2") \
	>"$T/bad.out" 2>"$T/bad.err" && t_fail "other data accepted"
grep -q '^ft-train (rank 1): error: its validation data differs' "$T/bad.err" ||
	{ cat "$T/bad.err"; t_fail "other data: message"; }

# rank1_when RUN_DIR CONDITION: wait (60 s at most) until CONDITION holds
# for the job started last ($!), then set pid to its rank 1's process
rank1_when() {
	mp=$!
	i=0
	until eval "$2"; do
		i=$((i + 1)); [ $i -lt 600 ] || { kill $mp; t_fail "never: $2"; }
		sleep 0.1
	done
	pid=""
	for p in $(pgrep -f "ft-train.*$1"); do
		tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null |
			grep -qx 'OMPI_COMM_WORLD_RANK=1' && pid=$p
	done
	[ -n "$pid" ] || { kill $mp; t_fail "rank 1 not found"; }
}

# ---- a killed rank ends the job; the last checkpoint is intact ----
# shellcheck disable=SC2086
mpr 2 ft-train $A --train "$T/train8.tok" --batch-size 2 --lr 0.01 \
	--max-steps 100000000 --save-steps 40 --eval-steps 0 -o "$T/kill" \
	>"$T/kill.out" 2>&1 &
# (a step takes milliseconds: checkpoint-80 may be rotated away between
# two looks, so wait for any checkpoint from step 80 on)
ckpt_from() { # RUN_DIR STEP: a checkpoint-N with N >= STEP exists
	for d in "$1"/checkpoint-*; do
		[ -d "$d" ] && [ "${d##*-}" -ge "$2" ] 2>/dev/null && return 0
	done
	return 1
}
rank1_when "$T/kill" 'ckpt_from "$T/kill" 80'
start=$(date +%s)
kill -9 "$pid"
wait $mp && t_fail "the job exited 0 after rank 1 was killed"
mp=""
el=$(( $(date +%s) - start ))
[ $el -le 30 ] || t_fail "the job took ${el}s to end after rank 1 was killed"
pgrep -f "ft-train.*$T/kill" && t_fail "ranks left running"
last=$(ls -d "$T/kill"/checkpoint-* | sed 's/.*-//' | sort -n | tail -n 1)
# shellcheck disable=SC2086
mpr 2 ft-train $A --train "$T/train8.tok" --batch-size 2 --lr 0.01 \
	--max-steps $((last + 2)) --save-steps 40 --eval-steps 0 -o "$T/kill" \
	--resume 2>"$T/kill2.err" || { cat "$T/kill2.err"; t_fail "resume after the kill"; }
[ -s "$T/kill/model.safetensors" ] || t_fail "no model after the resume"
echo "killed rank: the job ended in ${el}s; checkpoint-$last resumed"

# ---- SIGTERM to one rank: all stop at the same step, rank 0 checkpoints ----
# shellcheck disable=SC2086
mpr 2 ft-train $A --train "$T/train8.tok" --batch-size 2 --lr 0.01 \
	--max-steps 100000000 --save-steps 100000 --eval-steps 0 -o "$T/term" \
	>"$T/term.out" 2>&1 &
rank1_when "$T/term" 'grep -q '\''"step": 20}'\'' "$T/term/metrics.jsonl" 2>/dev/null'
kill -TERM "$pid"
wait $mp
rc=$?
mp=""
[ $rc -ne 0 ] || t_fail "the job exited 0 after SIGTERM"
step=$(sed -n 's/.*rank 1): note: interrupted by SIGTERM at step \([0-9]*\)$/\1/p' "$T/term.out")
[ -n "$step" ] || { cat "$T/term.out"; t_fail "no interruption message"; }
grep -q "^ft-train: note: checkpoint-$step written" "$T/term.out" ||
	{ cat "$T/term.out"; t_fail "rank 0 did not checkpoint step $step"; }
[ -s "$T/term/checkpoint-$step/ft_state.json" ] || t_fail "checkpoint-$step incomplete"
