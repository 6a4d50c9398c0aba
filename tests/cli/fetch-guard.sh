#!/bin/sh
# ft-fetch's guards (issue 17): -o DIR writes only the model's files and
# refuses a folder that holds other files (unless --force); downloads of
# unknown size are bounded (a fixed cap for small files, the Hub's file
# tree for LFS files) and leave no .incomplete; a 40,000-shard index is
# read in linear time; a dataset-viewer row that is not UTF-8 is named.
. "${FT_TOP:-.}/tests/cli/lib.sh"
t_tmp
HUB=$TOP/tests/hub
# A Hub of our own: org/tiny, a repo whose index names 40,000 shards (none
# of them there), and a viewer row with invalid UTF-8.
W=$T/root
mkdir -p "$W/repos/models/org" "$W/viewer/org/bad/default"
cp -r "$HUB/repos/models/org/tiny" "$W/repos/models/org/tiny"
mkdir "$W/repos/models/org/many"
cp "$HUB/repos/models/org/tiny/config.json" "$W/repos/models/org/many/"
python3 -c '
import json, sys
m = {"t%d" % i: "model-%05d-of-40000.safetensors" % (i + 1) for i in range(40000)}
json.dump({"metadata": {}, "weight_map": m}, open(sys.argv[1], "w"))
' "$W/repos/models/org/many/model.safetensors.index.json" || t_fail "python3"
printf '{"text": "fine"}\n{"text": "caf\351"}\n' >"$W/viewer/org/bad/default/train.jsonl"
mkdir -p "$W/viewer/org/lone/default"
printf '{"text": "a\\ud800b"}\n' >"$W/viewer/org/lone/default/train.jsonl"
t_hub_start "$W"
unset HF_HUB_OFFLINE TRANSFORMERS_OFFLINE HF_TOKEN_PATH XDG_CACHE_HOME
export HF_HOME=$T/home FT_HUB_RETRY_DELAY_MS=5
R=$W/repos/models/org/tiny
setmode() { printf '%s\n' "$*" >"$S/mode"; }
files="config.json generation_config.json model.safetensors vocab.json merges.txt tokenizer_config.json"

# ---- -o DIR: only the model's files are written or removed ----
ft-fetch -q model org/tiny -o "$T/m" >/dev/null || t_fail "-o"
for f in $files; do t_cmp "$R/$f" "$T/m/$f"; done
ft-fetch -q model org/tiny -o "$T/m/" >/dev/null || t_fail "-o rerun"
echo mine >"$T/m/notes.txt"
mkdir -p "$T/m/sub/deeper"
echo mine >"$T/m/sub/a.txt"
t_expect_fail 1 "'$T/m' holds files ft-fetch did not write \('notes.txt', 'sub/a.txt' and 1 more\).*--force" \
	ft-fetch -q model org/tiny -o "$T/m"
t_eq mine "$(cat "$T/m/notes.txt")" "a refused -o kept the file"
# --force: the model's files are replaced, the others stay
echo changed >"$T/m/config.json"
ft-fetch -q model org/tiny -o "$T/m" --force >/dev/null || t_fail "--force"
t_cmp "$R/config.json" "$T/m/config.json"
t_eq mine "$(cat "$T/m/sub/a.txt")" "--force kept sub/a.txt"
[ -d "$T/m/sub/deeper" ] || t_fail "--force removed an empty folder"
# a file of an earlier export that this model lacks is removed
echo old >"$T/m2.extra"
mkdir "$T/keep" && echo mine >"$T/keep/config.json"
t_expect_fail 1 "'$T/keep' holds files ft-fetch did not write \('config.json'\)" \
	ft-fetch -q model org/tiny -o "$T/keep"
t_eq mine "$(cat "$T/keep/config.json")" "a model folder ft did not write"
ft-fetch -q model org/tiny -o "$T/m3" >/dev/null || t_fail "-o m3"
echo stale-shard >"$T/m3/model-00001-of-00002.safetensors"
echo model-00001-of-00002.safetensors >>"$T/m3/.ft-fetch-files"
ft-fetch -q model org/tiny -o "$T/m3" >/dev/null || t_fail "-o m3 rerun"
[ ! -e "$T/m3/model-00001-of-00002.safetensors" ] ||
	t_fail "a file of the earlier export was left"
t_expect_fail 2 "--force is for" ft-fetch model --force org/tiny
[ -z "$(ls -A "$T" | grep -e '\.tmp' -e '\.old')" ] || t_fail "-o left temporaries"

# ---- downloads without a size ----
# nosize: no Content-Length nor X-Linked-Size, chunked bodies; small files
# are capped, LFS files sized by the file tree: the fetch works
export HF_HOME=$T/home2
setmode nosize
out=$(ft-fetch -q model org/tiny) || t_fail "nosize"
for f in $files; do t_cmp "$R/$f" "$out/$f"; done
grep -q 'hub GET /api/models/org/tiny/tree/' "$S/log" || t_fail "no file tree asked"
# endless: the body never ends; the download stops at the bound
export HF_HOME=$T/home3
setmode endless
start=$(date +%s)
t_expect_fail 1 "org/tiny: config.json: the server gave no size and sent more than [0-9]+ bytes" \
	ft-fetch -q model org/tiny
t_expect_fail 1 "org/tiny: model.safetensors: the server sent more than the announced [0-9]+ bytes" \
	ft-fetch -q file org/tiny model.safetensors
[ $(( $(date +%s) - start )) -lt 30 ] || t_fail "the bounded downloads took too long"
[ -z "$(find "$HF_HOME" -name '*.incomplete')" ] || t_fail ".incomplete left"
[ "$(du -sk "$HF_HOME" | cut -f1)" -lt 1024 ] || t_fail "the cache grew"
setmode

# ---- 40,000 shard names: linear ----
export HF_HOME=$T/home4
t0=$(date +%s%N)
t_expect_fail 1 "org/many: model-00001-of-40000.safetensors: file not found" \
	ft-fetch -q model org/many
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "40,000 shard names: $ms ms"
limit=1000; [ "${FT_SAN:-}" != 1 ] || limit=8000 # ASan and UBSan slow it
[ "$ms" -lt $limit ] || t_fail "reading the index took $ms ms"

# ---- a viewer row that is not UTF-8, a lone surrogate: named ----
t_expect_fail 1 "org/bad: /rows default/train offset 0: row 1: field 'text' is not valid UTF-8" \
	ft-fetch dataset org/bad
t_expect_fail 1 "org/lone: /rows default/train offset 0: the answer: invalid JSON at line 1, column [0-9]+ \(lone surrogate escape .ud800 at byte [0-9]+\)" \
	ft-fetch dataset org/lone
echo "fetch-guard: ok"
