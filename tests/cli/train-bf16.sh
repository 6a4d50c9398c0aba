#!/bin/sh
# ft-train --bf16 against PyTorch autocast (tests/ref/bf16_ref.py: the
# tiny GPT-2 of tests/fixtures/train/e2e and a tiny Llama with grouped-query
# attention, 30 steps each): per-step losses within
# 1% of torch.autocast's, both within 2% of fp32; fp32 stays exactly the
# torch fp32 run; bf16 runs repeat bit for bit; --save-dtype bfloat16
# writes a half-size BF16 model (torch_dtype bfloat16), while
# checkpoints stay fp32, and a resumed --bf16 run is bit-identical; the
# same for LoRA adapters under --bf16 (tests/fixtures/train/bf16/lora).
# SKIP (77) where oneDNN cannot compute bf16.
. "$FT_TOP/tests/cli/lib.sh"
t_tmp
E=$FIX/train/e2e
X=$FIX/train/bf16
tool=$FT_BUILD/tests/test_tokfile
[ -x "$tool" ] || t_fail "no $tool (run through make check)"
"$tool" write "$T/tr.tok" 50 49 <"$E/train.txt" || t_fail "tok"
M=$E
run() { # name, extra options
	n=$1; shift
	# shellcheck disable=SC2046
	ft-train -m "$M" --no-tokenizer --train "$T/tr.tok" $(cat "$X/bf16.args") \
		--max-length 12 --dropout 0 --logging-steps 1 --save-steps 0 \
		-j 1 -q -o "$T/$n" "$@" 2>"$T/$n.err"
}
if ! run b1 --bf16; then
	if grep -q '^ft-train: bf16: ' "$T/b1.err"; then
		echo "SKIP: $(head -n 1 "$T/b1.err")"
		exit 77
	fi
	cat "$T/b1.err" >&2
	t_fail "ft-train --bf16"
fi
run b2 --bf16 --save-steps 10 --save-dtype bfloat16 || t_fail "ft-train --bf16 (2)"
run f1 || t_fail "ft-train fp32"
losses() { grep -v '"train_loss"' "$1" | grep -o '"loss": [0-9.]*' | sed 's/.*: //'; }
losses "$T/b1/metrics.jsonl" >"$T/b1.l"
losses "$T/b2/metrics.jsonl" >"$T/b2.l"
t_cmp "$T/b1.l" "$T/b2.l"
grep -v '"train_runtime"\|_per_second' "$T/b1/metrics.jsonl" >"$T/b1.m"
grep -v '"train_runtime"\|_per_second' "$T/b2/metrics.jsonl" >"$T/b2.m"
t_cmp "$T/b1.m" "$T/b2.m"
track() { # torch bf16, torch fp32, ft bf16 losses, ft fp32 metrics
python3 - "$@" <<'PY' ||
import json, sys
tb = [json.loads(l)["loss"] for l in open(sys.argv[1])]
tf = [json.loads(l)["loss"] for l in open(sys.argv[2])]
fb = [float(x) for x in open(sys.argv[3])]
ff = [json.loads(l)["loss"] for l in open(sys.argv[4]) if "loss" in json.loads(l)]
bad = []
if not (len(tb) == len(tf) == len(fb) == len(ff) == 30):
    bad.append("step counts %d %d %d %d" % (len(tb), len(tf), len(fb), len(ff)))
worst = [0.0, 0.0, 0.0]
for i, (a, b, c, d) in enumerate(zip(tb, tf, fb, ff)):
    r = (abs(c - a) / a, abs(c - d) / d, abs(a - b) / b)
    worst = [max(w, x) for w, x in zip(worst, r)]
    if r[0] > 0.01: bad.append("step %d: ft bf16 %.4f vs torch autocast %.4f" % (i + 1, c, a))
    if r[1] > 0.02: bad.append("step %d: ft bf16 %.4f vs ft fp32 %.4f" % (i + 1, c, d))
    if r[2] > 0.02: bad.append("step %d: torch autocast %.4f vs fp32 %.4f" % (i + 1, a, b))
    if abs(d - round(b, 4)) > 1.01e-4: bad.append("step %d: ft fp32 %.4f vs torch %.4f" % (i + 1, d, b))
sys.stderr.write("worst: ft bf16 vs autocast %.3f%%, vs fp32 %.3f%%; autocast vs fp32 %.3f%%\n"
      % tuple(100 * w for w in worst))
for b in bad: print(b)
sys.exit(1 if bad else 0)
PY
	t_fail "ft-train --bf16 does not track tests/fixtures/train/bf16/$1"
}
track "$X/bf16.jsonl" "$X/fp32.jsonl" "$T/b1.l" "$T/f1/metrics.jsonl"
# the same for a tiny Llama (grouped-query attention, SwiGLU, RMSNorm)
M=$X/llama
run l1 --bf16 || t_fail "ft-train --bf16 llama"
run l2 || t_fail "ft-train llama"
losses "$T/l1/metrics.jsonl" >"$T/l1.l"
track "$X/llama-bf16.jsonl" "$X/llama-fp32.jsonl" "$T/l1.l" "$T/l2/metrics.jsonl"
# --save-dtype bfloat16: the final model in BF16, checkpoints fp32
grep -q '"torch_dtype": "bfloat16"' "$T/b2/config.json" || t_fail "torch_dtype"
grep -q '"torch_dtype": "float32"' "$T/b2/checkpoint-30/config.json" ||
	t_fail "checkpoint torch_dtype"
s16=$(wc -c <"$T/b2/model.safetensors")
s32=$(wc -c <"$T/b2/checkpoint-30/model.safetensors")
[ $((s16 * 2)) -lt $((s32 + 4096)) ] && [ $((s16 * 2)) -gt $((s32 - 4096)) ] ||
	t_fail "bf16 model $s16 bytes, fp32 $s32"
grep -q '"BF16"' "$T/b2/model.safetensors" || t_fail "no BF16 tensors"
# resuming a --bf16 run from a checkpoint: bit-identical
cp -r "$T/b2" "$T/b3"
run b3 --bf16 --save-steps 10 --save-dtype bfloat16 \
	--resume "$T/b3/checkpoint-20" || t_fail "resume --bf16"
t_cmp "$T/b2/model.safetensors" "$T/b3/model.safetensors"
grep -v '"train_runtime"\|_per_second' "$T/b3/metrics.jsonl" >"$T/b3.m"
grep -v '"train_runtime"\|_per_second' "$T/b2/metrics.jsonl" >"$T/b2.m"
t_cmp "$T/b2.m" "$T/b3.m"
# LoRA under --bf16 (the adapters' products in bf16 too, as autocast runs
# PEFT's lora_A / lora_B): the adapter of tests/fixtures/train/bf16/lora
# trained on the frozen tiny GPT-2 tracks torch autocast within 1% and
# fp32 LoRA within 2% per step; two runs are bit-identical, at 2 threads
M=$E
run a1 --bf16 --adapter "$X/lora" || t_fail "ft-train --bf16 --adapter"
run a2 --bf16 --adapter "$X/lora" -j 2 || t_fail "ft-train --bf16 --adapter (2)"
run a3 --bf16 --adapter "$X/lora" -j 2 || t_fail "ft-train --bf16 --adapter (3)"
run a4 --adapter "$X/lora" || t_fail "ft-train --adapter"
losses "$T/a1/metrics.jsonl" >"$T/a1.l"
track "$X/lora-bf16.jsonl" "$X/lora-fp32.jsonl" "$T/a1.l" "$T/a4/metrics.jsonl"
t_cmp "$T/a2/adapter_model.safetensors" "$T/a3/adapter_model.safetensors"
grep -v '"train_runtime"\|_per_second' "$T/a2/metrics.jsonl" >"$T/a2.m"
grep -v '"train_runtime"\|_per_second' "$T/a3/metrics.jsonl" >"$T/a3.m"
t_cmp "$T/a2.m" "$T/a3.m"
# and a new adapter (--lora-r) with dropout on the adapters' input
run r1 --bf16 --lora-r 4 --lora-targets c_attn,c_proj,c_fc --lora-dropout 0.1 ||
	t_fail "ft-train --bf16 --lora-r"
run r2 --bf16 --lora-r 4 --lora-targets c_attn,c_proj,c_fc --lora-dropout 0.1 ||
	t_fail "ft-train --bf16 --lora-r (2)"
run r3 --lora-r 4 --lora-targets c_attn,c_proj,c_fc --lora-dropout 0.1 ||
	t_fail "ft-train --lora-r"
t_cmp "$T/r1/adapter_model.safetensors" "$T/r2/adapter_model.safetensors"
losses "$T/r1/metrics.jsonl" >"$T/r1.l"
losses "$T/r3/metrics.jsonl" >"$T/r3.l"
python3 - "$T/r1.l" "$T/r3.l" <<'PY' || t_fail "ft-train --bf16 --lora-r does not track fp32 LoRA"
import sys
b = [float(x) for x in open(sys.argv[1])]
f = [float(x) for x in open(sys.argv[2])]
bad = [i + 1 for i, (x, y) in enumerate(zip(b, f)) if abs(x - y) / y > 0.02]
sys.stderr.write("lora-r: worst ft bf16 vs fp32 %.3f%%\n"
                 % max(100 * abs(x - y) / y for x, y in zip(b, f)))
sys.exit(1 if bad or len(b) != 30 or len(f) != 30 else 0)
PY
t_expect_fail 2 'save-dtype' ft-train --train x -o y --save-dtype int4
exit 0
