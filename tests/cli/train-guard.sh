#!/bin/sh
# ft-train's run directory guards (issue 17): an output directory that
# is, holds or lies inside an input is refused before anything is touched;
# --overwrite-output-dir removes only what ft-train wrote; the run
# directory is locked for the whole run; a corrupt checkpoint is refused
# by name; a run killed before its first checkpoint says what to do.
. "$FT_TOP/tests/cli/lib.sh"
t_tmp

t_sonnets_gpt2
head -n 40 "$SON" | ft-tokenize -m "$T/tok" >"$T/train.tok" ||
	t_fail "ft-tokenize"
C="--init gpt2-micro --tokenizer-dir $T/tok --train $T/train.tok
--max-length 32 -j 1 -q"
sums() { (cd "$1" && find . -type f | sort | xargs sha256sum); }

# ---- an output directory that is, holds or is inside an input ----
ft-train $C --max-steps 2 -o "$T/m" || t_fail "run m"
sums "$T/m" >"$T/m.sum"
sums "$T/tok" >"$T/tok.sum"
t_expect_fail 1 "output directory '$T/m' holds the model \(-m\)" \
	ft-train -m "$T/m" --train "$T/train.tok" --max-steps 2 -q -o "$T/m" \
	--overwrite-output-dir
# another spelling of the same folder, and a symlink to it
ln -s "$T/m" "$T/m-link"
t_expect_fail 1 "holds the model" ft-train -m "$T/m" --train "$T/train.tok" \
	--max-steps 2 -q -o "$T/m/../m/." --overwrite-output-dir
t_expect_fail 1 "holds the model" ft-train -m "$T/m-link" \
	--train "$T/train.tok" --max-steps 2 -q -o "$T/m" --overwrite-output-dir
t_expect_fail 1 "is inside the model" ft-train -m "$T/m" \
	--train "$T/train.tok" --max-steps 2 -q -o "$T/m/sub"
[ ! -e "$T/m/sub" ] || t_fail "m/sub was created"
t_expect_fail 1 "holds the tokenizer \(--tokenizer-dir\)" \
	ft-train $C --max-steps 2 -o "$T/tok" --overwrite-output-dir
cp "$T/train.tok" "$T/m/train.tok"
t_expect_fail 1 "holds the training file \(--train\)" \
	ft-train --init gpt2-micro --tokenizer-dir "$T/tok" \
	--train "$T/m/train.tok" --max-steps 2 -q -o "$T/m" --overwrite-output-dir
rm "$T/m/train.tok"
mkdir "$T/vd"
cp "$T/train.tok" "$T/vd/val.tok"
t_expect_fail 1 "holds the validation file \(--val\)" \
	ft-train $C --val "$T/vd/val.tok" --max-steps 2 -o "$T/vd"
printf '{"n_layer": 1, "n_embd": 32, "n_head": 2, "n_positions": 64}\n' \
	>"$T/m/small.json"
t_expect_fail 1 "holds the config \(--init\)" ft-train --init "$T/m/small.json" \
	--tokenizer-dir "$T/tok" --train "$T/train.tok" -q -o "$T/m" \
	--overwrite-output-dir
rm "$T/m/small.json"
sums "$T/m" | cmp -s - "$T/m.sum" || t_fail "the model folder changed"
sums "$T/tok" | cmp -s - "$T/tok.sum" || t_fail "the tokenizer folder changed"

# ---- --overwrite-output-dir removes only what ft-train wrote ----
mkdir "$T/m/notes"
echo mine >"$T/m/notes/a.txt"
echo mine >"$T/m/README.md"
ft-train $C --max-steps 3 -o "$T/m" --overwrite-output-dir || t_fail "overwrite"
[ -f "$T/m/README.md" ] && [ -f "$T/m/notes/a.txt" ] ||
	t_fail "--overwrite-output-dir removed files ft-train did not write"
t_eq "checkpoint-3" "$(cd "$T/m" && echo checkpoint-*)" "checkpoints"
# a folder that holds no ft-train run is not taken over
mkdir "$T/foreign"
echo x >"$T/foreign/config.json"
t_expect_fail 1 "holds no ft-train run" ft-train $C --max-steps 2 \
	-o "$T/foreign" --overwrite-output-dir
t_eq "config.json" "$(ls -A "$T/foreign")" "foreign folder"
# a checkpoint-N folder ft-train did not write is named, nothing removed
mkdir "$T/m/checkpoint-1"
t_expect_fail 1 "'$T/m/checkpoint-1' was not written by ft-train" \
	ft-train $C --max-steps 2 -o "$T/m" --overwrite-output-dir
[ -d "$T/m/checkpoint-3" ] || t_fail "checkpoint-3 removed"
# nor does --resume write over it or rotate it away
echo mine >"$T/m/checkpoint-1/notes.txt"
t_expect_fail 1 "'$T/m/checkpoint-1' was not written by ft-train.*--resume" \
	ft-train $C --max-steps 4 --save-steps 1 --save-total-limit 1 \
	-o "$T/m" --resume
[ -f "$T/m/checkpoint-1/notes.txt" ] || t_fail "--resume removed checkpoint-1"
rm -r "$T/m/checkpoint-1"

# ---- the lock: a second run into the same folder fails at once ----
ft-train $C --max-steps 100000 --save-steps 0 --logging-steps 1 \
	-o "$T/lk" 2>"$T/lk.err" &
pid=$!
trap 'kill -9 $pid 2>/dev/null; rm -rf "$T"' EXIT
i=0
while ! grep -q '"step": 2}' "$T/lk/metrics.jsonl" 2>/dev/null; do
	i=$((i + 1)); [ $i -lt 600 ] || t_fail "timeout waiting for the run"
	sleep 0.05
done
start=$(date +%s)
for opt in --overwrite-output-dir --resume; do
	t_expect_fail 1 "run directory '$T/lk' is in use by pid $pid on " \
		ft-train $C --max-steps 2 -o "$T/lk" $opt
done
[ $(( $(date +%s) - start )) -le 3 ] || t_fail "the second run waited"
kill -0 $pid 2>/dev/null || t_fail "the first run ended early"
grep -q "^$pid " "$T/lk/.ft-train.lock" || t_fail "lock file: no pid"
# ---- killed before its first checkpoint: the messages say what to do ----
kill -9 $pid
wait $pid
t_expect_fail 1 "no checkpoint.*stopped before the first checkpoint.*--overwrite-output-dir" \
	ft-train $C --max-steps 2 -o "$T/lk" --resume
t_expect_fail 1 "stopped before its first checkpoint.*--overwrite-output-dir" \
	ft-train $C --max-steps 2 -o "$T/lk"
ft-train $C --max-steps 2 -o "$T/lk" --overwrite-output-dir ||
	t_fail "the lock of a killed run was not released"
t_expect_fail 1 "does not exist" ft-train $C --max-steps 2 -o "$T/none" --resume
[ ! -e "$T/none" ] || t_fail "--resume created the folder"

# ---- a corrupt checkpoint is refused by name, never a crash ----
R="--max-steps 6 --save-steps 3 --save-total-limit 0 --logging-steps 2"
ft-train $C $R -o "$T/a" || t_fail "run a"
bad() { # file sed-expression regex: edit checkpoint-3's file, resume
	rm -rf "$T/b"; cp -r "$T/a" "$T/b"
	f=$T/b/checkpoint-3/$1
	sed "$2" "$f" >"$f.new"
	! cmp -s "$f" "$f.new" || t_fail "'$2' changed nothing in $1"
	mv "$f.new" "$f"
	t_expect_fail 1 "$3" ft-train $C $R -o "$T/b" --resume "$T/b/checkpoint-3"
}
for v in -5 -1 7 1e300 2.5 9223372036854775808; do
	bad ft_state.json "s/\"global_step\":.*,/\"global_step\": $v,/" \
		"ft_state.json: 'global_step' is .*, not an integer from 0 to 6"
	bad ft_state.json "s/\"log_steps\":.*,/\"log_steps\": $v,/" \
		"ft_state.json: 'log_steps' is .*, not an integer from 0 to 3"
done
bad ft_state.json 's/"global_step":.*,/"global_step": 2,/' \
	"trainer_state.json: global_step 3 differs from ft_state.json's 2"
bad ft_state.json 's/"total_loss_sum":.*,/"total_loss_sum": 1e999,/' \
	"'total_loss_sum' is inf, not a finite number"
bad ft_state.json 's/"train_runtime":.*,/"train_runtime": -1,/' \
	"'train_runtime' is -1, not a finite number >= 0"
bad ft_state.json 's/"dropout_counter":.*,/"dropout_counter": "-1",/' \
	"'dropout_counter' is not a decimal number"
bad trainer_state.json 's/"global_step": 3,/"global_step": -3,/' \
	"trainer_state.json: 'global_step' is -3"
bad trainer_state.json 's/"step": 2$/"step": 1e300/' \
	"trainer_state.json: 'step' is 1e\+300"
bad trainer_state.json 's/"step": 2$/"step": 99/' \
	"log entry of step 99 is past global_step 3"
# the untouched copy resumes, logging the very numbers of run a
rm -rf "$T/b"; cp -r "$T/a" "$T/b"
ft-train $C $R -o "$T/b" --resume "$T/b/checkpoint-3" || t_fail "resume"
t_cmp "$T/a/model.safetensors" "$T/b/model.safetensors"
exit 0
