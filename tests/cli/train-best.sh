#!/bin/sh
# ft-train's best model (issue 16, defect 3): --load-best-model-at-end,
# --metric-for-best-model, --greater-is-better, --early-stopping-patience
# and --early-stopping-threshold decide as transformers' Trainer and
# EarlyStoppingCallback do (tests/cli/best_ref.py replays the Trainer's
# logic on the logged eval losses: best_metric, best_model_checkpoint, the
# stop step, the callback's counter, the checkpoints --save-total-limit
# leaves); the final model is the best checkpoint's weights (a LoRA run:
# its adapter); a resumed run keeps its best; the strategy mismatches the
# Trainer refuses; each evaluation and the end print their losses (not
# with -q); the progress line shows the total epochs.
. "$FT_TOP/tests/cli/lib.sh"
t_tmp

t_sonnets_gpt2
# 8 sonnets to train on, 14 others to evaluate: the eval loss falls, then
# rises as the model learns the 8 by heart
head -n 8 "$SON" | ft-tokenize -m "$T/tok" >"$T/train.tok" || t_fail "tokenize"
tail -n 14 "$SON" | ft-tokenize -m "$T/tok" >"$T/val.tok" || t_fail "tokenize"
head -n 20 "$SON" | tail -n 6 | ft-tokenize -m "$T/tok" >"$T/other.tok" ||
	t_fail "tokenize"
C="--init gpt2-micro --tokenizer-dir $T/tok --train $T/train.tok
--val $T/val.tok --lr 2e-2 --warmup-steps 2 --max-length 32 -j 1
--logging-steps 5"

ref() { # RUN_DIR OPTIONS-JSON: the Trainer's decisions on its losses
	printf '%s\n' "$2" >"$T/opts.json"
	python3 "$TOP/tests/cli/best_ref.py" "$1/metrics.jsonl" "$1" \
		"$T/opts.json" || t_fail "$1 differs from the Trainer's decisions"
}
best_of() { sed -n 's/.*"best_model_checkpoint": ".*checkpoint-\([0-9]*\)".*/\1/p' "$1/trainer_state.json"; }

# ---- the best model at the end; rotation keeps it ----
# shellcheck disable=SC2086
ft-train $C --max-steps 60 --eval-steps 5 --save-steps 10 \
	--load-best-model-at-end -o "$T/a" 2>"$T/a.err" || { cat "$T/a.err"; t_fail "ft-train a"; }
cat "$T/a.err"
ref "$T/a" '{"eval_steps": 5, "save_steps": 10, "max_steps": 60,
"save_total_limit": 2, "metric": "eval_loss"}'
b=$(best_of "$T/a")
[ -n "$b" ] && [ "$b" -lt 50 ] || t_fail "the best checkpoint is $b: the losses do not rise?"
[ -d "$T/a/checkpoint-$b" ] || t_fail "checkpoint-$b (the best) was rotated away"
t_cmp "$T/a/checkpoint-$b/model.safetensors" "$T/a/model.safetensors"
grep -q "the best model (checkpoint-$b, eval_loss [0-9.]*) in" "$T/a.err" ||
	t_fail "the end line does not name the best model"
# every evaluation on the terminal, and the summary
t_eq 12 "$(grep -c '^ft-train: step [0-9]* (epoch [0-9.]*): eval_loss [0-9.]* (perplexity [0-9.]*)$' "$T/a.err")" \
	"evaluation lines"
grep -q "^ft-train: eval loss [0-9.]* at step 5, [0-9.]* at step 60 ([-+][0-9.]*%), lowest [0-9.]* at step $b; perplexity [0-9.]* last, [0-9.]* lowest$" \
	"$T/a.err" || t_fail "no eval summary"
grep -q '^ft-train: 60 steps, train_loss [0-9.]* (perplexity [0-9.]*); ' "$T/a.err" ||
	t_fail "no train loss summary"
# without --load-best-model-at-end: the last step's model, best_metric null
# shellcheck disable=SC2086
ft-train $C --max-steps 60 --eval-steps 5 --save-steps 10 --save-total-limit 0 -o "$T/plain" \
	2>"$T/plain.err" || t_fail "ft-train plain"
grep -q '"best_metric": null,' "$T/plain/trainer_state.json" || t_fail "best_metric not null"
t_cmp "$T/plain/checkpoint-60/model.safetensors" "$T/plain/model.safetensors"
t_cmp "$T/plain/checkpoint-$b/model.safetensors" "$T/a/model.safetensors"
grep -q "model of the last step in" "$T/plain.err" || t_fail "end line"
# -q: none of it
# shellcheck disable=SC2086
ft-train $C --max-steps 10 --eval-steps 5 --save-steps 10 -q -o "$T/quiet" \
	2>"$T/quiet.err" || t_fail "ft-train -q"
[ ! -s "$T/quiet.err" ] || { cat "$T/quiet.err"; t_fail "-q printed"; }

# ---- early stopping, the threshold, save_total_limit 1 ----
# shellcheck disable=SC2086
ft-train $C --max-steps 60 --eval-steps 5 --save-steps 10 --save-total-limit 1 \
	--load-best-model-at-end --early-stopping-patience 2 -o "$T/es" \
	2>"$T/es.err" || t_fail "ft-train es"
ref "$T/es" '{"eval_steps": 5, "save_steps": 10, "max_steps": 60,
"save_total_limit": 1, "metric": "loss", "patience": 2}'
grep -q "^ft-train: early stopping at step [0-9]*: eval_loss did not improve for 2 evaluations$" \
	"$T/es.err" || { cat "$T/es.err"; t_fail "no early stopping line"; }
b=$(best_of "$T/es")
t_eq "checkpoint-$b" "$(cd "$T/es" && echo checkpoint-*)" "save_total_limit 1 keeps the best only"
t_cmp "$T/a/checkpoint-$b/model.safetensors" "$T/es/model.safetensors"
# shellcheck disable=SC2086
ft-train $C --max-steps 60 --eval-steps 5 --save-steps 5 --save-total-limit 3 \
	--load-best-model-at-end --early-stopping-patience 3 \
	--early-stopping-threshold 0.2 -o "$T/th" 2>/dev/null || t_fail "ft-train threshold"
ref "$T/th" '{"eval_steps": 5, "save_steps": 5, "max_steps": 60,
"save_total_limit": 3, "metric": "eval_loss", "patience": 3, "threshold": 0.2}'
# --greater-is-better (on a loss: the worst model is the "best") and a
# named set's metric, without the eval_ prefix
# shellcheck disable=SC2086
ft-train $C --max-steps 30 --eval-steps 5 --save-steps 5 --save-total-limit 1 \
	--eval other="$T/other.tok" --load-best-model-at-end \
	--metric-for-best-model other_loss --greater-is-better -q -o "$T/gt" ||
	t_fail "ft-train --greater-is-better"
ref "$T/gt" '{"eval_steps": 5, "save_steps": 5, "max_steps": 30,
"save_total_limit": 1, "metric": "other_loss", "greater_is_better": true}'
# --metric-for-best-model alone tracks the best (and keeps it) without
# loading it
# shellcheck disable=SC2086
ft-train $C --max-steps 30 --eval-steps 5 --save-steps 5 \
	--metric-for-best-model eval_loss -q -o "$T/track" || t_fail "ft-train track"
ref "$T/track" '{"eval_steps": 5, "save_steps": 5, "max_steps": 30,
"save_total_limit": 2, "metric": "eval_loss"}'
t_cmp "$T/track/checkpoint-30/model.safetensors" "$T/track/model.safetensors"

# ---- resume keeps the best and the early-stopping counter ----
# shellcheck disable=SC2086
ft-train $C --max-steps 60 --eval-steps 5 --save-steps 5 --save-total-limit 0 \
	--load-best-model-at-end --early-stopping-patience 4 -q -o "$T/r1" ||
	t_fail "ft-train r1"
cp -r "$T/r1" "$T/r2"
ft-train --train "$T/train.tok" -j 1 -q -o "$T/r2" --resume "$T/r2/checkpoint-20" ||
	t_fail "resume r2"
t_cmp "$T/r1/model.safetensors" "$T/r2/model.safetensors"
for r in r1 r2; do
	grep '"best_\|"early_stopping\|"global_step\|"should_training_stop' \
		"$T/$r/trainer_state.json" | sed "s|$T/$r/||" >"$T/$r.best"
done
t_cmp "$T/r1.best" "$T/r2.best"

# ---- LoRA: the adapter of the best checkpoint ----
M=$FIX/sample/tiny
i=0
while [ $i -lt 8 ]; do
	i=$((i + 1))
	echo "{\"text\": \"Shall I compare thee to a summer's day, line $i? Thou art more lovely.\"}"
done | ft-tokenize -m "$M" >"$T/ltrain.tok" || t_fail "ft-tokenize lora"
head -n 3 "$SON" | ft-tokenize -m "$M" >"$T/lval.tok" || t_fail "ft-tokenize lora val"
ft-train -m "$M" --train "$T/ltrain.tok" --val "$T/lval.tok" --lora-r 4 \
	--lr 2e-1 --warmup-steps 1 --max-steps 24 --eval-steps 4 --save-steps 4 \
	--load-best-model-at-end -j 1 -q -o "$T/lora" || t_fail "ft-train lora"
ref "$T/lora" '{"eval_steps": 4, "save_steps": 4, "max_steps": 24,
"save_total_limit": 2, "metric": "eval_loss"}'
b=$(best_of "$T/lora")
[ "$b" -lt 24 ] || t_fail "LoRA: the best is the last step; the test shows nothing"
t_cmp "$T/lora/checkpoint-$b/adapter_model.safetensors" \
	"$T/lora/adapter_model.safetensors"
[ ! -e "$T/lora/model.safetensors" ] || t_fail "a LoRA run wrote a model"

# ---- the progress line shows the total epochs (on a terminal) ----
if command -v script >/dev/null 2>&1; then
	# shellcheck disable=SC2086
	# shellcheck disable=SC2086
	script -qec "ft-train $(echo $C) --max-steps 30 --eval-steps 0 --save-steps 0 -o $T/tty" \
		/dev/null >"$T/tty.out" 2>&1 </dev/null || { cat "$T/tty.out"; t_fail "ft-train on a terminal"; }
	# 8 samples, batch 4: 2 steps an epoch, 15 epochs
	grep -q 'ep [0-9]*/15 loss' "$T/tty.out" || { cat "$T/tty.out"; t_fail "no 'ep N/15' on the terminal"; }
else
	t_skip_part "progress line on a terminal: no script(1)"
fi

# ---- what the Trainer refuses ----
t_expect_fail 2 "save and eval strategy to match" ft-train $C --eval-steps 0 \
	--load-best-model-at-end -o "$T/u"
t_expect_fail 2 "save and eval strategy to match" ft-train $C --save-steps 0 \
	--load-best-model-at-end -o "$T/u"
t_expect_fail 2 "round multiple of the evaluation steps: --save-steps 150 is not a multiple of --eval-steps 100" \
	ft-train $C --save-steps 150 --load-best-model-at-end -o "$T/u"
t_expect_fail 2 "needs --load-best-model-at-end" ft-train $C \
	--early-stopping-patience 2 -o "$T/u"
t_expect_fail 2 "needs an evaluation set" ft-train --init gpt2-micro \
	--train "$T/train.tok" --load-best-model-at-end -o "$T/u"
t_expect_fail 2 "'eval_accuracy': no such loss; the evaluation sets give eval_loss, eval_other_loss" \
	ft-train $C --eval other="$T/other.tok" --load-best-model-at-end \
	--metric-for-best-model eval_accuracy -o "$T/u"
t_expect_fail 2 "'eval_loss': no such loss" ft-train --init gpt2-micro \
	--train "$T/train.tok" --eval other="$T/other.tok" --load-best-model-at-end -o "$T/u"
t_expect_fail 2 "--early-stopping-patience" ft-train $C --load-best-model-at-end \
	--early-stopping-patience 0 -o "$T/u"
[ ! -e "$T/u" ] || t_fail "a refused run made its directory"
exit 0
