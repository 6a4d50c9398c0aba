#!/bin/sh
# LoRA end to end (issue 14): ft-train --lora-r on a tiny GPT-2 writes an
# adapter directory in PEFT's layout (adapter_config.json with PEFT's keys,
# adapter_model.safetensors with PEFT's names and shapes, the tokenizer),
# checkpoints hold the adapter and its optimizer state only; resume is
# bit-identical; --adapter continues an adapter on the base it names;
# ft-sample applies it (-m BASE --adapter DIR = -m RUN_DIR), --merge-to
# writes W + s·(B·A)ᵀ as a model directory that samples the same; the
# forgetting report (--eval NAME=FILE, --eval-only); the Llama family;
# LoRA under mpirun; the errors.  The math against PEFT's is
# tests/unit/test_lora.c.
. "${FT_TOP:-.}/tests/cli/lib.sh"
t_tmp
M=$FIX/sample/tiny
A=$FIX/lora/gpt2/adapter_config.json

i=0
while [ $i -lt 12 ]; do
	i=$((i + 1))
	echo "{\"text\": \"Shall I compare thee to a summer's day, line $i? Thou art more lovely and more temperate.\"}"
done | ft-tokenize -m "$M" >"$T/train.tok" || t_fail "ft-tokenize"

C0="--train $T/train.tok --lr 2e-2 --warmup-steps 1 --max-steps 6
--save-steps 3 --batch-size 4 --logging-steps 1 -j 1"
C="$C0 -q"
# shellcheck disable=SC2086
ft-train -m "$M" $C --lora-r 4 --lora-targets c_attn,c_proj,c_fc \
	--lora-dropout 0.1 -o "$T/run" || t_fail "ft-train --lora-r"

# 1. The run directory: the adapter, not a model.
for f in adapter_config.json adapter_model.safetensors vocab.json merges.txt \
    metrics.jsonl trainer_state.json checkpoint-6/adapter_model.safetensors \
    checkpoint-6/optimizer.safetensors checkpoint-3/ft_state.json; do
	[ -s "$T/run/$f" ] || t_fail "run dir: $f missing"
done
for f in model.safetensors config.json checkpoint-6/model.safetensors; do
	[ ! -e "$T/run/$f" ] || t_fail "run dir: $f written by a LoRA run"
done

# 2. PEFT's files: every key of a PEFT adapter_config.json, the values,
#    tensor names, dtypes and shapes; the optimizer covers the adapters.
python3 - "$T/run" "$A" "$(cd "$M" && pwd -P)" <<'PY' || t_fail "PEFT layout"
import json, struct, sys
run, ref, base = sys.argv[1:]
def header(p):
    b = open(p, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    return json.loads(b[8:8 + n])
c = json.load(open(run + "/adapter_config.json"))
r = json.load(open(ref))
bad = []
if sorted(c) != sorted(r):
    bad.append(("keys", sorted(set(c) ^ set(r))))
want = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": 4,
        "lora_alpha": 8, "lora_dropout": 0.1, "fan_in_fan_out": True,
        "bias": "none", "use_rslora": False, "use_dora": False,
        "modules_to_save": None, "inference_mode": True,
        "target_modules": ["c_attn", "c_fc", "c_proj"],
        "base_model_name_or_path": base}
for k, v in want.items():
    if c.get(k) != v or type(c.get(k)) != type(v):
        bad.append((k, c.get(k), v))
text = open(run + "/adapter_config.json").read()
if text != json.dumps(c, indent=2, sort_keys=True) + "\n":
    bad.append("not json.dumps(indent=2, sort_keys=True)")
h = header(run + "/adapter_model.safetensors")
C, F = 16, 64
dims = {"attn.c_attn": (C, 3 * C), "attn.c_proj": (C, C),
        "mlp.c_fc": (C, F), "mlp.c_proj": (F, C)}
exp = {}
for l in range(2):
    for m, (i, o) in dims.items():
        p = "base_model.model.transformer.h.%d.%s" % (l, m)
        exp[p + ".lora_A.weight"] = [4, i]
        exp[p + ".lora_B.weight"] = [o, 4]
got = {k: v["shape"] for k, v in h.items() if k != "__metadata__"}
if got != exp:
    bad.append(("tensors", sorted(set(got) ^ set(exp)) or got))
if any(v["dtype"] != "F32" for k, v in h.items() if k != "__metadata__"):
    bad.append("dtype")
if h.get("__metadata__") != {"format": "pt"}:
    bad.append("metadata")
o = header(run + "/checkpoint-6/optimizer.safetensors")
names = sorted(k for k in o if k != "__metadata__")
if names != sorted(["exp_avg." + k for k in exp] + ["exp_avg_sq." + k for k in exp]):
    bad.append(("optimizer", names[:4]))
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
PY

# 3. Resume from checkpoint-3 (lora dropout on): bit-identical.
mkdir "$T/res"
cp -r "$T/run/checkpoint-3" "$T/res/"
# shellcheck disable=SC2086
ft-train $C --resume -o "$T/res" || t_fail "ft-train --resume (LoRA)"
t_cmp "$T/run/adapter_model.safetensors" "$T/res/adapter_model.safetensors"
t_cmp "$T/run/checkpoint-6/optimizer.safetensors" \
	"$T/res/checkpoint-6/optimizer.safetensors"
t_cmp "$T/run/adapter_config.json" "$T/res/adapter_config.json"
grep -v '"train_runtime"\|"eval_' "$T/run/metrics.jsonl" >"$T/m1"
grep -v '"train_runtime"\|"eval_' "$T/res/metrics.jsonl" >"$T/m2"
t_cmp "$T/m1" "$T/m2"

# 4. --adapter continues it (r, alpha, targets from its config; the base
#    it names, no -m); the adapter moves, its config stays.
# shellcheck disable=SC2086
ft-train $C --max-steps 2 --adapter "$T/run" -o "$T/cont" ||
	t_fail "ft-train --adapter"
t_cmp "$T/run/adapter_config.json" "$T/cont/adapter_config.json"
cmp -s "$T/run/adapter_model.safetensors" "$T/cont/adapter_model.safetensors" &&
	t_fail "--adapter: the adapter did not train"

# 5. ft-sample: -m BASE --adapter RUN = -m RUN = the merged model.
P="Shall I"
S="--greedy --max-new-tokens 12 -j 1"
# shellcheck disable=SC2086
base=$(ft-sample -m "$M" $S "$P" | od -An -tx1) || t_fail "ft-sample base"
# shellcheck disable=SC2086
with=$(ft-sample -m "$M" --adapter "$T/run" $S "$P" | od -An -tx1) ||
	t_fail "ft-sample --adapter"
# shellcheck disable=SC2086
viarun=$(cd / && ft-sample -m "$T/run" $S "$P" | od -An -tx1) ||
	t_fail "ft-sample -m RUN"
t_eq "$with" "$viarun" "-m RUN vs --adapter"
[ "$with" != "$base" ] || t_fail "the adapter does not change the greedy text"
ft-sample -m "$T/run" --merge-to "$T/merged" || t_fail "--merge-to"
for f in config.json model.safetensors generation_config.json vocab.json \
    merges.txt; do
	[ -s "$T/merged/$f" ] || t_fail "merged: $f missing"
done
[ ! -e "$T/merged/adapter_config.json" ] || t_fail "merged: an adapter"
# shellcheck disable=SC2086
merged=$(ft-sample -m "$T/merged" $S "$P" | od -An -tx1) ||
	t_fail "ft-sample merged"
t_eq "$with" "$merged" "merged model vs adapter"

# 6. The merged weights: W + s (B A)^T for each Conv1D, the rest unchanged.
python3 - "$M/model.safetensors" "$T/merged/model.safetensors" \
    "$T/run/adapter_model.safetensors" <<'PY' || t_fail "merged weights"
import json, struct, sys
def read(p, strip=True):
    b = open(p, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    out = {}
    for k, v in h.items():
        if k == "__metadata__":
            continue
        s, e = v["data_offsets"]
        assert v["dtype"] == "F32", k
        out[k[12:] if strip and k.startswith("transformer.") else k] = (v["shape"],
            struct.unpack("<%df" % ((e - s) // 4), b[8 + n + s:8 + n + e]))
    return out
W, Mg, Ad = read(sys.argv[1]), read(sys.argv[2]), read(sys.argv[3], False)
s, worst, seen = 8 / 4, 0.0, 0
for k, (shape, w) in W.items():
    if k.endswith("attn.bias"):
        continue
    m = Mg[k][1]
    mod = "base_model.model.transformer." + k[:-len(".weight")]
    if mod + ".lora_A.weight" in Ad:
        seen += 1
        (r, i), A = Ad[mod + ".lora_A.weight"]
        (o, _), B = Ad[mod + ".lora_B.weight"]
        assert shape == [i, o], (k, shape)
        for a in range(i):
            for c in range(o):
                d = sum(B[c * r + q] * A[q * i + a] for q in range(r)) * s
                worst = max(worst, abs(m[a * o + c] - (w[a * o + c] + d)))
    elif m != w:
        print("changed:", k); sys.exit(1)
print("merged %d weights, max abs err %.3g" % (seen, worst))
sys.exit(0 if seen == 8 and worst < 1e-6 else 1)
PY

# 7. Defaults printed at the start (gpt2: c_attn, PEFT's alpha 8).
# shellcheck disable=SC2086
ft-train -m "$M" $C0 --max-steps 1 --lora-r 2 -o "$T/def" 2>"$T/def.err" ||
	t_fail "ft-train default targets"
grep -q "LoRA r 2, alpha 8 .*targets c_attn: 2 modules" "$T/def.err" ||
	t_fail "default targets not printed: $(cat "$T/def.err")"
grep -q '"c_attn"' "$T/def/adapter_config.json" || t_fail "default targets"

# 8. A forgetting report: --eval NAME=FILE sets (with --val) evaluated at
#    step 0 and every --eval-steps, one loss.svg curve each, a line each at
#    the end; --eval-only gives the same numbers from the adapter; resume
#    keeps them.
i=0
while [ $i -lt 5 ]; do
	i=$((i + 1))
	echo "{\"text\": \"Other text entirely, number $i, about the weather and the sea.\"}"
done | ft-tokenize -m "$M" >"$T/other.tok" || t_fail "ft-tokenize other"
# shellcheck disable=SC2086
ft-train -m "$M" $C0 --lora-r 4 --val "$T/train.tok" --eval "other=$T/other.tok" \
	--eval-steps 3 -o "$T/fg" 2>"$T/fg.err" || t_fail "ft-train --eval"
python3 - "$T/fg/metrics.jsonl" <<'PY' || t_fail "--eval metrics"
import json, sys
got = [json.loads(l) for l in open(sys.argv[1])]
a = [g["step"] for g in got if "eval_loss" in g]
b = [g["step"] for g in got if "eval_other_loss" in g]
keys = {"epoch", "eval_other_loss", "eval_other_runtime",
        "eval_other_samples_per_second", "eval_other_steps_per_second", "step"}
ok = a == [0, 3, 6] and b == [0, 3, 6] and all(
    set(g) == keys for g in got if "eval_other_loss" in g)
print(a, b)
sys.exit(0 if ok else 1)
PY
grep -q '>other loss<' "$T/fg/loss.svg" && grep -q '>eval loss<' "$T/fg/loss.svg" ||
	t_fail "loss.svg: no curve per set"
grep -q "other loss [0-9.]* at step 0, [0-9.]* at step 6 (" "$T/fg.err" ||
	t_fail "no end-of-run line for the set: $(cat "$T/fg.err")"
last=$(grep '"eval_other_loss"' "$T/fg/metrics.jsonl" | tail -1 |
	sed 's/.*"eval_other_loss": \([^,]*\),.*/\1/')
ft-train -m "$M" --adapter "$T/fg" --eval-only --eval "other=$T/other.tok" \
	-j 1 -q >"$T/eo.jsonl" || t_fail "--eval-only"
t_eq 1 "$(wc -l <"$T/eo.jsonl" | tr -d ' ')" "--eval-only lines"
grep -q "\"eval_other_loss\": $last," "$T/eo.jsonl" ||
	t_fail "--eval-only: $(cat "$T/eo.jsonl"), want eval_other_loss $last"
mkdir "$T/fg2"
cp -r "$T/fg/checkpoint-3" "$T/fg2/"
# shellcheck disable=SC2086
ft-train $C --val "$T/train.tok" --eval "other=$T/other.tok" --eval-steps 3 \
	--resume -o "$T/fg2" || t_fail "--resume with --eval"
strip() { sed 's/"eval_[a-z_]*runtime": [^,]*, //; s/"eval_[a-z_]*per_second": [^,]*, //g' "$1" |
	grep -v train_runtime; }
strip "$T/fg/metrics.jsonl" >"$T/f1"
strip "$T/fg2/metrics.jsonl" >"$T/f2"
t_cmp "$T/f1" "$T/f2"

# 9. The Llama family (tests/fixtures/lora/llama: GQA, explicit head_dim,
#    untied): every linear layer, PEFT's names and shapes, resume
#    bit-identical, the merged model loads.
tool=$FT_BUILD/tests/test_tokfile
[ -x "$tool" ] || t_fail "no $tool (run through make check)"
"$tool" write "$T/l.tok" 50 49 <"$FIX/train/e2e/train.txt" || t_fail "llama tok"
L="--train $T/l.tok --lr 1e-2 --warmup-steps 1 --max-steps 4 --save-steps 2
--batch-size 4 --max-length 8 -j 1 -q"
# shellcheck disable=SC2086
ft-train -m "$FIX/lora/llama" --no-tokenizer $L --lora-r 2 --lora-targets all-linear \
	--rslora --lora-dropout 0.1 -o "$T/ll" || t_fail "ft-train llama --lora-r"
python3 - "$T/ll" <<'PY' || t_fail "llama adapter layout"
import json, struct, sys
c = json.load(open(sys.argv[1] + "/adapter_config.json"))
b = open(sys.argv[1] + "/adapter_model.safetensors", "rb").read()
h = json.loads(b[8:8 + struct.unpack("<Q", b[:8])[0]])
C, Q, K, F = 24, 32, 16, 40
dims = {"self_attn.q_proj": (C, Q), "self_attn.k_proj": (C, K),
        "self_attn.v_proj": (C, K), "self_attn.o_proj": (Q, C),
        "mlp.gate_proj": (C, F), "mlp.up_proj": (C, F), "mlp.down_proj": (F, C)}
exp = {}
for l in range(2):
    for m, (i, o) in dims.items():
        p = "base_model.model.model.layers.%d.%s" % (l, m)
        exp[p + ".lora_A.weight"] = [2, i]
        exp[p + ".lora_B.weight"] = [o, 2]
got = {k: v["shape"] for k, v in h.items() if k != "__metadata__"}
ok = got == exp and c["fan_in_fan_out"] is False and c["use_rslora"] is True \
    and c["target_modules"] == sorted(m.split(".")[1] for m in dims)
print(ok, c["target_modules"])
sys.exit(0 if ok else 1)
PY
mkdir "$T/ll2"
cp -r "$T/ll/checkpoint-2" "$T/ll2/"
# shellcheck disable=SC2086
ft-train $L --resume -o "$T/ll2" || t_fail "llama --resume"
t_cmp "$T/ll/adapter_model.safetensors" "$T/ll2/adapter_model.safetensors"
ft-sample -m "$T/ll" --merge-to "$T/llm" || t_fail "llama --merge-to"
ft-train -m "$T/llm" --eval-only --val "$T/l.tok" --max-length 8 -j 1 -q \
	>"$T/llm.jsonl" || t_fail "merged llama does not load"
ft-train -m "$FIX/lora/llama" --adapter "$T/ll" --eval-only --val "$T/l.tok" \
	--max-length 8 -j 1 -q >"$T/lla.jsonl" || t_fail "llama --eval-only"
python3 - "$T/llm.jsonl" "$T/lla.jsonl" <<'PY' || t_fail "merged vs adapter loss"
import json, sys
a, b = (json.loads(open(p).read())["eval_loss"] for p in sys.argv[1:])
print(a, b)
sys.exit(0 if abs(a - b) <= 1e-5 * abs(b) else 1)
PY

# 10. Under mpirun (lib/dist.h), 2 ranks x batch 2 train the adapters as
#     1 process x batch 4 (within 2e-5; 5e-6 here): the gradients summed over ranks
#     are the adapters'.
if command -v mpirun >/dev/null; then
	export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
	head -n 8 "$FIX/train/e2e/train.txt" | "$tool" write "$T/l8.tok" 50 49 ||
		t_fail "tok"
	D="-m $FIX/lora/gpt2 --no-tokenizer --train $T/l8.tok --lora-r 4 --lora-targets c_attn,c_proj
--epochs 3 --warmup-steps 2 --lr 0.01 --max-length 12 --save-steps 0 -j 1 -q"
	# shellcheck disable=SC2086
	ft-train $D --batch-size 4 -o "$T/mp1" || t_fail "ft-train LoRA batch 4"
	# shellcheck disable=SC2086
	ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" mpirun -np 2 \
		--oversubscribe --bind-to none ft-train $D --batch-size 2 \
		-o "$T/mp2" || t_fail "mpirun ft-train --lora-r"
	python3 "$TOP/tests/cli/stcmp.py" "$T/mp1/adapter_model.safetensors" \
		"$T/mp2/adapter_model.safetensors" 2e-5 ||
		t_fail "LoRA: 2 ranks x 2 differ from 1 x 4"
	cmp -s "$T/mp1/adapter_model.safetensors" "$FIX/lora/gpt2/adapter_model.safetensors" &&
		t_fail "the adapters did not train"
else
	echo "note: no mpirun, the LoRA data-parallel check did not run"
fi

# 11. Errors: one line, exit 1 (runtime) or 2 (usage).
t_expect_fail 2 "want NAME=FILE" ft-train -m "$M" $C --eval "$T/other.tok" -o "$T/e6"
t_expect_fail 2 "needs --val FILE or --eval" ft-train -m "$M" --eval-only
t_expect_fail 1 "a second set named 'eval'" ft-train -m "$M" --eval-only \
	--val "$T/other.tok" --eval "eval=$T/other.tok"
ft-train -m "$M" --eval-only --eval "eval=$T/other.tok" -q >"$T/ev.jsonl" ||
	t_fail "--eval eval=FILE"
grep -q '"eval_loss"' "$T/ev.jsonl" || t_fail "--eval eval=FILE is not eval_loss"
# shellcheck disable=SC2086
t_expect_fail 1 "target module 'q_proj' matches no linear layer" \
	ft-train -m "$M" $C --lora-r 2 --lora-targets q_proj -o "$T/e1"
# shellcheck disable=SC2086
t_expect_fail 2 "not --init" ft-train --init gpt2-micro $C --lora-r 2 -o "$T/e2"
# shellcheck disable=SC2086
t_expect_fail 2 "--lora-r makes a new one" \
	ft-train $C --lora-r 2 --adapter "$T/run" -o "$T/e3"
# shellcheck disable=SC2086
t_expect_fail 2 "need --lora-r" ft-train -m "$M" $C --rslora -o "$T/e4"
# shellcheck disable=SC2086
t_expect_fail 2 "need --lora-r" ft-train $C --lora-alpha 4 --adapter "$T/run" -o "$T/e4"
t_expect_fail 2 "without an adapter" ft-sample -m "$M" --merge-to "$T/e5"
t_expect_fail 1 "is an adapter; --adapter needs a model" \
	ft-sample -m "$T/run" --adapter "$T/run" "$P"
mkdir "$T/bad"
cp "$T/run/adapter_model.safetensors" "$T/bad/"
sed 's/"r": 4/"r": 3/' "$T/run/adapter_config.json" >"$T/bad/adapter_config.json"
t_expect_fail 1 "lora_A.weight': expected shape \[3, 16\]" \
	ft-sample -m "$M" --adapter "$T/bad" "$P"
echo "lora: ok"
