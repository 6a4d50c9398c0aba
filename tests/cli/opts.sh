#!/bin/sh
# The option layer (lib/opt.c) in all six tools: the common flags mean the
# same everywhere (-h -V -q exit 0 with the same wording), a common flag a
# tool lacks is refused in one line naming it, an unknown option gets the
# nearest known one, an ambiguous abbreviation its candidates, '_' reads as
# '-', a bad number names the flag as typed, and the Trainer's and
# generate()'s names give the same run as ft's own.
. "$FT_TOP/tests/cli/lib.sh"
t_tmp

TOOLS="ft-fetch ft-split ft-clean ft-tokenize ft-train ft-sample"

# ---- -h, -V, -q: exit 0, stdout only, the same text in every tool ----
for t in $TOOLS; do
	for h in -h --help; do
		"$t" $h >"$T/h" 2>"$T/e" || t_fail "$t $h exited $?"
		[ ! -s "$T/e" ] || t_fail "$t $h wrote to stderr"
		grep -Eq '^usage: ' "$T/h" || t_fail "$t $h: no usage line"
		grep -Eq '^  -h, --help +print this help and exit$' "$T/h" ||
			t_fail "$t $h: no '-h, --help  print this help and exit'"
		grep -Eq '^  -V, --version +print the version and exit$' "$T/h" ||
			t_fail "$t $h: no '-V, --version  print the version and exit'"
		grep -Eq '^  -q, --quiet +no ' "$T/h" ||
			t_fail "$t $h: no '-q, --quiet'"
	done
	for v in -V --version "-q -V" "-qV"; do
		# shellcheck disable=SC2086
		out=$("$t" $v 2>"$T/e") || t_fail "$t $v exited $?"
		[ ! -s "$T/e" ] || t_fail "$t $v wrote to stderr"
		t_eq "$t (ft) $(sed -n 's/^#define FT_VERSION "\(.*\)"/\1/p' \
		    "$TOP/lib/err.h")" "$out" "$t $v"
	done
done

# ---- -q silences the notes that -v asks for; the last one wins ----
printf '{"text":"a"}\n{"text":"b"}\n' >"$T/in.jsonl"
ft-clean -v <"$T/in.jsonl" >/dev/null 2>"$T/e" || t_fail "ft-clean -v"
grep -q 'records read' "$T/e" || t_fail "ft-clean -v: no counts"
ft-clean -v -q <"$T/in.jsonl" >"$T/o" 2>"$T/e" || t_fail "ft-clean -v -q"
[ ! -s "$T/e" ] || t_fail "ft-clean -v -q: $(cat "$T/e")"
t_cmp "$T/in.jsonl" "$T/o"
ft-clean -q -v <"$T/in.jsonl" >/dev/null 2>"$T/e" || t_fail "ft-clean -q -v"
grep -q 'records read' "$T/e" || t_fail "ft-clean -q -v: -v is last"
ft-split -qv --train "$T/a" --val "$T/b" "$T/in.jsonl" 2>"$T/e" ||
	t_fail "ft-split -qv"
grep -q '2 records' "$T/e" || t_fail "ft-split -qv: no counts"
ft-split -vq --train "$T/a" --val "$T/b" "$T/in.jsonl" 2>"$T/e" ||
	t_fail "ft-split -vq"
[ ! -s "$T/e" ] || t_fail "ft-split -vq: $(cat "$T/e")"

# ---- a common flag the tool does not take: one line naming it ----
t_expect_fail 2 "^ft-clean: -j/--threads does not apply to ft-clean: " ft-clean -j 2
t_expect_fail 2 "^ft-clean: -j/--threads does not apply" ft-clean --threads 2
t_expect_fail 2 "^ft-clean: -s/--seed does not apply to ft-clean" ft-clean -s 1
t_expect_fail 2 "^ft-clean: -f/--force does not apply" ft-clean -f
t_expect_fail 2 "^ft-split: -o/--output does not apply to ft-split: it writes --train" \
	ft-split -o x --train a --val b
t_expect_fail 2 "^ft-split: -j/--threads does not apply" ft-split -j1 --train a --val b
t_expect_fail 2 "^ft-fetch: -v/--verbose does not apply to ft-fetch" ft-fetch -v model x
t_expect_fail 2 "^ft-fetch: -s/--seed does not apply" ft-fetch --seed 1 model x
t_expect_fail 2 "^ft-tokenize: -v/--verbose does not apply" ft-tokenize -v
t_expect_fail 2 "^ft-tokenize: -s/--seed does not apply" ft-tokenize -s 3
t_expect_fail 2 "^ft-train: -v/--verbose does not apply to ft-train" ft-train -v
t_expect_fail 2 "^ft-sample: -o/--output does not apply to ft-sample" ft-sample -o x
t_expect_fail 2 "^ft-sample: -f/--force does not apply" ft-sample --force

# ---- unknown options: the nearest known one, exit 2 ----
t_expect_fail 2 "^ft-train: unknown option '--learnig-rate'; did you mean '--learning-rate'\\?$" \
	ft-train --learnig-rate 1e-3
t_expect_fail 2 "unknown option '--learnig-rate'; did you mean '--learning-rate'\\?$" \
	ft-train --learnig_rate=1e-3
t_expect_fail 2 "did you mean '--save-steps'\\?" ft-train --svae-steps 3
t_expect_fail 2 "did you mean '--top-k' or '--top-p'\\?" ft-sample --top-x 3
t_expect_fail 2 "did you mean '--max-new-tokens'\\?" ft-sample --max-new-tokes 3
t_expect_fail 2 "did you mean '--dedupe'\\?" ft-clean --deduep
t_expect_fail 2 "did you mean '--kfold'\\?" ft-split --kfodl 3
t_expect_fail 2 "did you mean '--decode'\\?" ft-tokenize --decod3
t_expect_fail 2 "did you mean '--revision'\\?" ft-fetch --revison x model y
t_expect_fail 2 "^ft-train: unknown option '--zzzzzzzz'$" ft-train --zzzzzzzz
t_expect_fail 2 "^ft-clean: unknown option '-x'$" ft-clean -x
# an ambiguous abbreviation lists what it could mean
t_expect_fail 2 "^ft-train: option '--lo' is ambiguous: '--logging-steps', '--lora-r', " \
	ft-train --lo 3
t_expect_fail 2 "option '--max' is ambiguous: '--max-length', '--max-new-tokens'" \
	ft-sample --max 3
# arguments: missing, or given to a flag that takes none
t_expect_fail 2 "^ft-train: option '--epochs' needs an argument$" ft-train --epochs
t_expect_fail 2 "^ft-train: option '-s' \\(--seed\\) needs an argument$" ft-train -s
t_expect_fail 2 "^ft-clean: option '--nfc' takes no argument$" ft-clean --nfc=1
# an abbreviation of names that mean the same is no ambiguity
t_expect_fail 2 "^ft-train: --train FILE is required" ft-train --out x --learn 1e-3

# ---- numbers: the error names the flag as the user wrote it ----
t_expect_fail 2 "^ft-train: --epochs: 'x' is not a number$" ft-train --epochs x
t_expect_fail 2 "^ft-train: --num-train-epochs: 'x' is not a number$" \
	ft-train --num_train_epochs x
t_expect_fail 2 "^ft-train: --learning-rate: '1e-3x' is not a number$" \
	ft-train --learning-rate=1e-3x
t_expect_fail 2 "^ft-train: --per-device-train-batch-size: '0' must be between 1 and " \
	ft-train --per-device-train-batch-size 0
t_expect_fail 2 "^ft-train: --seed: 'abc' is not a number$" ft-train -s abc
t_expect_fail 2 "^ft-sample: --seed: '-3' must be at least 0$" ft-sample -s -3
t_expect_fail 2 "^ft-sample: --max-new-tokens: 'ten' is not a number$" \
	ft-sample --max_new_tokens ten
t_expect_fail 2 "^ft-sample: --temperature: '-1' must be between 0 and " \
	ft-sample --temperature -1
t_expect_fail 2 "^ft-split: --seed: '-1' is not a number$" ft-split -s -1 --train a --val b
# a bound that %g would round names the value itself, not one it excludes
t_expect_fail 2 "^ft-train: --adam-beta1: '1' must be between 0 and 0.999999999$" \
	ft-train --adam-beta1 1
t_expect_fail 2 "^ft-tokenize: --threads: '0' must be between 1 and 256$" ft-tokenize -j 0
t_expect_fail 2 "^ft-clean: --min-chars: 'x' is not a number$" ft-clean --min-chars x

# ---- '_' only in option names: operands and arguments stay as given ----
mkdir "$T/a_b"
printf '{"te_xt":"x_y"}\n' >"$T/a_b/in_1.jsonl"
ft-clean --field te_xt --append _z "$T/a_b/in_1.jsonl" >"$T/o" || t_fail "ft-clean _"
t_eq '{"te_xt":"x_y_z"}' "$(cat "$T/o")" "ft-clean: '_' in arguments"
ft-clean --field=te_xt --append --a_b "$T/a_b/in_1.jsonl" >"$T/o" ||
	t_fail "ft-clean --append --a_b"
t_eq '{"te_xt":"x_y--a_b"}' "$(cat "$T/o")" "ft-clean --append --a_b"
ft-clean --field te_xt --append=--x_y -- "$T/a_b/in_1.jsonl" >"$T/o" ||
	t_fail "ft-clean --"
t_eq '{"te_xt":"x_y--x_y"}' "$(cat "$T/o")" "ft-clean --append=--x_y"

# ---- ft-train: the Trainer's names make the same run as ft's own ----
E=$FIX/train/e2e
tool=$FT_BUILD/tests/test_tokfile
[ -x "$tool" ] || t_fail "no $tool (run through make check)"
"$tool" write "$T/tr.tok" 50 49 <"$E/train.txt" || t_fail "tok"
"$tool" write "$T/va.tok" 50 49 <"$E/val.txt" || t_fail "tok"
C="-m $E --no-tokenizer --train $T/tr.tok --val $T/va.tok --max-length 12 --dropout 0
--logging-steps 1 --eval-steps 2 --save-steps 2 --warmup-steps 1 -j 1 -q"
# shellcheck disable=SC2086
ft-train $C --batch-size 2 --eval-batch-size 3 --grad-accum 2 --epochs 1 \
	--schedule cosine --lr 0.01 -s 7 -o "$T/native" || t_fail "native run"
# shellcheck disable=SC2086
ft-train $C --per_device_train_batch_size 2 --per-device-eval-batch-size=3 \
	--gradient_accumulation_steps 2 --num-train-epochs 1 \
	--lr_scheduler_type cosine --learning_rate 0.01 --seed=7 \
	--output "$T/alias" || t_fail "alias run"
# the resume state's options, the metrics (less timings), the weights
state() {
	python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))
print(json.dumps(s["args"], sort_keys=True))' "$1"
}
metrics() { # without the timings
	python3 -c 'import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    print(json.dumps({k: v for k, v in r.items()
                      if "runtime" not in k and "per_second" not in k}))' "$1"
}
[ -f "$T/native/checkpoint-2/ft_state.json" ] || t_fail "no checkpoint-2"
t_eq "$(state "$T/native/checkpoint-2/ft_state.json")" \
	"$(state "$T/alias/checkpoint-2/ft_state.json")" "ft_state.json args"
state "$T/alias/checkpoint-2/ft_state.json" >"$T/st"
grep -q '"seed": "7"' "$T/st" && grep -q '"schedule": 1' "$T/st" &&
	grep -q '"grad_accum": 2' "$T/st" || t_fail "alias run: $(cat "$T/st")"
grep -q '"eval_loss"' "$T/alias/metrics.jsonl" || t_fail "no eval_loss"
metrics "$T/native/metrics.jsonl" >"$T/m1"
metrics "$T/alias/metrics.jsonl" >"$T/m2"
t_cmp "$T/m1" "$T/m2"
t_cmp "$T/native/model.safetensors" "$T/alias/model.safetensors"
# -f is --overwrite-output-dir (and --force); without it the run is refused
# shellcheck disable=SC2086
t_expect_fail 1 "" ft-train $C --max-steps 1 -o "$T/native"
# shellcheck disable=SC2086
ft-train $C --max-steps 1 -f -o "$T/native" || t_fail "ft-train -f"
# shellcheck disable=SC2086
ft-train $C --max-steps 1 --force -o "$T/native" || t_fail "ft-train --force"

# ---- ft-sample: generate()'s names, -s ----
M=$FIX/sample/tiny
ft-sample -m "$M" -j 1 --max-new-tokens 6 -n 2 --seed 5 --greedy --do-sample \
	"Hello" >"$T/s1" || t_fail "ft-sample native"
ft-sample -m "$M" -j 1 --max_new_tokens=6 --num_return_sequences 2 -s 5 \
	--do_sample "Hello" >"$T/s2" || t_fail "ft-sample aliases"
t_cmp "$T/s1" "$T/s2"
ft-sample -m "$M" -j 1 --max-new-tokens 6 -n 2 -s 6 "Hello" >"$T/s3" ||
	t_fail "ft-sample -s 6"
! cmp -s "$T/s1" "$T/s3" || t_fail "ft-sample: -s 6 draws what -s 5 does"
ft-sample -m "$M" -j 1 --max-new-tokens 6 --greedy "Hello" >"$T/g1" ||
	t_fail "ft-sample --greedy"
ft-sample -m "$M" -j 1 --max-new-tokens 6 --do-sample --greedy "Hello" \
	>"$T/g2" || t_fail "ft-sample --do-sample --greedy"
t_cmp "$T/g1" "$T/g2"
echo ok
