#!/bin/sh
# ft-fetch against tests/hub/server.py, a loopback imitation of the Hub, its
# CDN (another port) and the dataset viewer.  Every behaviour is exercised
# through HF_ENDPOINT / HF_DATASETS_SERVER_URL; nothing leaves the machine.
. "${FT_TOP:-.}/tests/cli/lib.sh"
t_tmp
HUB=$TOP/tests/hub
t_hub_start "$HUB"
TOKEN=hf_fake_secret_token_1234
unset HF_HUB_OFFLINE TRANSFORMERS_OFFLINE HF_TOKEN_PATH XDG_CACHE_HOME HF_HUB_ETAG_TIMEOUT HF_HUB_DOWNLOAD_TIMEOUT
export HF_HOME=$T/home FT_HUB_RETRY_DELAY_MS=5
C=$HF_HOME/hub
R=$HUB/repos/models/org

setmode() { printf '%s\n' "$*" >"$S/mode"; }
mark() { M=$(wc -l <"$S/log"); }
since() { tail -n +$((M + 1)) "$S/log"; }
fresh() { export HF_HOME=$T/home$1; C=$HF_HOME/hub; }

t_help_and_man ft-fetch
t_expect_fail 2 'missing command' ft-fetch
t_expect_fail 2 "unknown command 'bogus'" ft-fetch bogus x
t_expect_fail 2 'REPO and PATH' ft-fetch file org/tiny
t_expect_fail 2 'repo-type' ft-fetch file --repo-type space org/tiny x
t_expect_fail 2 'for .ft-fetch model' ft-fetch dataset -o x org/sonnets

# --- a model: cache layout -------------------------------------------------
out=$(ft-fetch -q model org/tiny) || t_fail "model org/tiny"
commit=$(basename "$out")
t_eq "$C/models--org--tiny/snapshots/$commit" "$out" "snapshot path"
for f in config.json generation_config.json model.safetensors vocab.json merges.txt tokenizer_config.json; do
	[ -L "$out/$f" ] || t_fail "$f is not a symlink"
	t_cmp "$R/tiny/$f" "$out/$f"
done
sha=$(sha256sum "$R/tiny/model.safetensors" | cut -d' ' -f1)
t_eq "../../blobs/$sha" "$(readlink "$out/model.safetensors")" "LFS link"
gsha=$(readlink "$out/config.json"); gsha=${gsha#../../blobs/}
[ ${#gsha} -eq 40 ] || t_fail "config.json blob is not a git sha1: $gsha"
t_eq "$commit" "$(cat "$C/models--org--tiny/refs/main")" "refs/main"
t_eq 40 "$(wc -c <"$C/models--org--tiny/refs/main" | tr -d ' ')" "refs/main size (no newline)"
for f in tokenizer.json special_tokens_map.json; do
	[ -f "$C/models--org--tiny/.no_exist/$commit/$f" ] || t_fail ".no_exist/$f missing"
	[ ! -e "$out/$f" ] || t_fail "$f should not exist"
done
[ -d "$C/.locks/models--org--tiny" ] || t_fail "no .locks folder"
[ -z "$(find "$T/home" -name '*.incomplete' -o -name '*.tmp*')" ] || t_fail "temporaries left"
grep -q 'cdn GET /blobs/' "$S/log" || t_fail "LFS file not fetched from the CDN"

# A second run: HEADs only, no download.
mark
t_eq "$out" "$(ft-fetch model org/tiny 2>"$T/err")" "second run"
[ ! -s "$T/err" ] || t_fail "second run printed: $(cat "$T/err")"
! since | grep -q ' GET ' || t_fail "second run downloaded again"

# Offline: no request at all.
mark
t_eq "$out" "$(HF_HUB_OFFLINE=1 ft-fetch model org/tiny)" "offline"
[ -z "$(since)" ] || t_fail "offline mode made requests"
t_expect_fail 1 'org/sharded: config.json: not in the cache.*HF_HUB_OFFLINE' \
	env HF_HUB_OFFLINE=yes ft-fetch model org/sharded
# Unreachable Hub: the cache answers; nothing cached is an error.
t_eq "$out" "$(HF_ENDPOINT=http://127.0.0.1:1 ft-fetch model org/tiny 2>"$T/err")" "fallback"
grep -q 'warning: cannot reach' "$T/err" || t_fail "no warning for the fallback"
t_expect_fail 1 'org/sharded: config.json: cannot reach .* nothing is cached' \
	env HF_ENDPOINT=http://127.0.0.1:1 ft-fetch model org/sharded

# -o: a plain folder of copies, rewritten on a rerun; a folder holding
# files ft-fetch did not write is refused (more in fetch-guard.sh).
ft-fetch -q model org/tiny -o "$T/m" >/dev/null || t_fail "-o"
for f in config.json generation_config.json model.safetensors vocab.json merges.txt tokenizer_config.json; do
	[ -f "$T/m/$f" ] && [ ! -L "$T/m/$f" ] || t_fail "-o: $f not a plain file"
	t_cmp "$R/tiny/$f" "$T/m/$f"
done
ft-fetch -q model org/tiny -o "$T/m/" >/dev/null || t_fail "-o rerun"
mkdir "$T/keep" && echo mine >"$T/keep/file"
t_expect_fail 1 "'.*keep' holds files ft-fetch did not write \('file'\)" ft-fetch -q model org/tiny -o "$T/keep"
t_eq mine "$(cat "$T/keep/file")" "-o kept a foreign folder"
[ -z "$(ls "$T" | grep -e '\.tmp' -e '\.old')" ] || t_fail "-o left temporaries"

# HF_HUB_CACHE wins over HF_HOME.
p=$(HF_HUB_CACHE=$T/c2 ft-fetch -q model org/tiny) || t_fail "HF_HUB_CACHE"
t_eq "$T/c2/models--org--tiny/snapshots/$commit" "$p" "HF_HUB_CACHE path"

# A renamed repo: relative redirect followed; the folder keeps the asked id.
mark
p=$(ft-fetch -q model legacy-tiny) || t_fail "legacy id"
t_eq "$C/models--legacy-tiny/snapshots/$commit" "$p" "legacy id path"
since | grep -q 'HEAD /org/tiny/resolve/main/config.json' || t_fail "redirect not followed"

# Revisions: encoded with no safe characters; refs/REV written.
mark
p=$(ft-fetch -q model --revision refs/pr/1 org/tiny) || t_fail "--revision refs/pr/1"
since | grep -q 'resolve/refs%2Fpr%2F1/config.json' || t_fail "revision not percent-encoded"
t_eq "$commit" "$(cat "$C/models--org--tiny/refs/refs/pr/1")" "refs/refs/pr/1"
t_eq "$out" "$(ft-fetch -q model -r "$commit" org/tiny)" "commit as revision"
t_expect_fail 1 'org/tiny: config.json: revision not found' ft-fetch model -r nobranch org/tiny
t_expect_fail 1 'invalid revision' ft-fetch model -r ../x org/tiny

# Errors name repo and file.
t_expect_fail 1 'org/nope: config.json: repository not found' ft-fetch model org/nope
t_expect_fail 1 'org/tiny: nope.txt: file not found' ft-fetch file org/tiny nope.txt
t_expect_fail 2 "'bad--id' is not a valid repository id" ft-fetch model bad--id
t_expect_fail 2 "'' is not a valid repository id" ft-fetch dataset ''
t_expect_fail 2 'unsafe file name' ft-fetch file org/tiny ../../x
t_expect_fail 2 'unsafe file name' ft-fetch file org/tiny "$(printf 'a\tb')"
# refused before any request (the viewer address here answers nothing)
t_expect_fail 2 '--split: empty name' ft-fetch dataset --viewer http://127.0.0.1:1 --split '' org/sonnets
t_expect_fail 2 '--config: empty name' ft-fetch dataset --viewer http://127.0.0.1:1 --config '' org/sonnets
t_expect_fail 2 "invalid value 'not a url' for --viewer" ft-fetch dataset --viewer 'not a url' org/sonnets
t_expect_fail 1 'org/ptonly: .*pytorch_model.bin.*safetensors' ft-fetch model org/ptonly
t_expect_fail 1 'org/notok: .*no tokenizer' ft-fetch model org/notok
t_expect_fail 1 'org/evil: model.safetensors.index.json: refusing the unsafe shard' ft-fetch model org/evil
[ -z "$(find "$T" -name 'evil.safetensors')" ] || t_fail "evil shard written"

# Sharded weights and tokenizer.json alone.
p=$(ft-fetch -q model org/sharded) || t_fail "sharded"
for f in model.safetensors.index.json model-00001-of-00002.safetensors model-00002-of-00002.safetensors tokenizer.json; do
	t_cmp "$R/sharded/$f" "$p/$f"
done

# One file of a dataset repo, in a sub-folder (one more ../ in the link).
p=$(ft-fetch file --repo-type dataset org/sonnets data/train.jsonl) || t_fail "file"
case $p in "$C/datasets--org--sonnets/snapshots/"*/data/train.jsonl) ;; *) t_fail "file path $p" ;; esac
case $(readlink "$p") in ../../../blobs/*) ;; *) t_fail "nested link $(readlink "$p")" ;; esac
t_cmp "$HUB/repos/datasets/org/sonnets/data/train.jsonl" "$p"

# --- tokens -----------------------------------------------------------------
t_expect_fail 1 'org/private: config.json: repository not found .*HF_TOKEN' ft-fetch model org/private
mark
p=$(HF_TOKEN=$TOKEN ft-fetch -q model org/private 2>"$T/err") || t_fail "HF_TOKEN"
since | grep -q '^cdn GET .* auth=no$' || t_fail "no CDN download"
! since | grep -q '^cdn .* auth=[yb]' || t_fail "token sent to the CDN"
! since | grep -q '^hub .* auth=[nb]' || t_fail "token not sent to the Hub"
printf '  %s\r\n' "$TOKEN" >"$T/tokfile"
HF_TOKEN_PATH=$T/tokfile ft-fetch -q model org/private >/dev/null || t_fail "HF_TOKEN_PATH"
HUGGING_FACE_HUB_TOKEN=$TOKEN ft-fetch -q model org/private >/dev/null || t_fail "HUGGING_FACE_HUB_TOKEN"
cp "$T/tokfile" "$HF_HOME/token"
ft-fetch -q model org/private >/dev/null || t_fail "\$HF_HOME/token"
t_expect_fail 1 'repository not found' env HF_TOKEN=wrong ft-fetch model org/private
rm "$HF_HOME/token"
t_expect_fail 1 'org/gated: config.json: gated repository' ft-fetch file org/gated config.json
HF_TOKEN=$TOKEN ft-fetch file org/gated config.json >/dev/null || t_fail "gated with a token"
grep -rq "$TOKEN" "$T/home" "$T/err" "$T/c2" && t_fail "the token was written somewhere"

# --- integrity, resume, retries ----------------------------------------------
# corrupt flips the last byte of every file body, LFS or not: the sha256
# of an LFS file and the git blob sha1 (the ETag) of a regular file catch it.
fresh 2
setmode corrupt
t_expect_fail 1 'org/tiny: model.safetensors: checksum mismatch: sha256 [0-9a-f]{64}, the Hub says '"$sha" \
	ft-fetch -q file org/tiny model.safetensors
[ -z "$(find "$C" -path '*blobs*' -name "$sha*")" ] || t_fail "corrupt blob kept"
t_expect_fail 1 'org/tiny: config.json: checksum mismatch: git blob sha1 [0-9a-f]{40}, the Hub says '"$gsha" \
	ft-fetch -q file org/tiny config.json
t_expect_fail 1 'org/tiny: config.json: checksum mismatch: git blob sha1' ft-fetch -q model org/tiny
[ -z "$(find "$C" -type f -path '*blobs*')" ] || t_fail "corrupt regular blob kept"
[ -z "$(find "$C" -path '*snapshots*' ! -type d)" ] || t_fail "corrupt file linked"
setmode
ft-fetch -q file org/tiny config.json >/dev/null || t_fail "config.json after corrupt"
t_cmp "$R/tiny/config.json" "$C/models--org--tiny/blobs/$gsha"

fresh 3
setmode cut
mark
t_eq "$C/models--org--tiny/snapshots/$commit" "$(ft-fetch -q model org/tiny)" "resume after a cut"
since | grep -q "^cdn GET /blobs/$sha.* range=bytes=[1-9][0-9]*-" || t_fail "no Range request after the cut"
t_cmp "$R/tiny/model.safetensors" "$C/models--org--tiny/snapshots/$commit/model.safetensors"

fresh 4
setmode cut again
t_expect_fail 1 'org/tiny: model.safetensors: download failed .*run again to resume' \
	env FT_HUB_RETRIES=0 ft-fetch -q model org/tiny
inc=$C/models--org--tiny/blobs/$sha.incomplete
[ -s "$inc" ] || t_fail "no .incomplete left after the cut"
n=$(wc -c <"$inc" | tr -d ' ')
mark
ft-fetch -q model org/tiny >/dev/null || t_fail "second run after the cut"
since | grep -q "^cdn GET /blobs/$sha.* range=bytes=$n-" || t_fail "second run did not resume at $n"
[ ! -e "$inc" ] || t_fail ".incomplete left after resuming"
t_cmp "$R/tiny/model.safetensors" "$C/models--org--tiny/blobs/$sha"

# A stale .incomplete: too long is restarted; a wrong prefix fails the
# checksum, is deleted, and the next run starts clean.
fresh 6
ft-fetch -q file org/tiny config.json >/dev/null || t_fail "config.json"
b=$C/models--org--tiny/blobs
head -c 100000 /dev/zero >"$b/$sha.incomplete"
ft-fetch -q file org/tiny model.safetensors >/dev/null || t_fail "too long .incomplete"
t_cmp "$R/tiny/model.safetensors" "$b/$sha"
rm -rf "$C/models--org--tiny/snapshots" "$b/$sha"
head -c 1000 /dev/zero >"$b/$sha.incomplete"
t_expect_fail 1 'model.safetensors: checksum mismatch' ft-fetch -q file org/tiny model.safetensors
[ ! -e "$b/$sha.incomplete" ] || t_fail "bad .incomplete kept"
ft-fetch -q file org/tiny model.safetensors >/dev/null || t_fail "after a bad .incomplete"
t_cmp "$R/tiny/model.safetensors" "$b/$sha"
# Regular files too: a good prefix is resumed and checked whole, a wrong
# one fails the git blob sha1 and is deleted.
rm -rf "$C/models--org--tiny/snapshots" "$b/$gsha"
head -c 10 "$R/tiny/config.json" >"$b/$gsha.incomplete"
mark
ft-fetch -q file org/tiny config.json >/dev/null || t_fail "config.json resumed"
since | grep -q "GET /org/tiny/resolve/main/config.json range=bytes=10-" || t_fail "config.json not resumed"
t_cmp "$R/tiny/config.json" "$b/$gsha"
rm -rf "$C/models--org--tiny/snapshots" "$b/$gsha"
printf 'XXXXXXXXXX' >"$b/$gsha.incomplete"
t_expect_fail 1 'org/tiny: config.json: checksum mismatch: git blob sha1' ft-fetch -q file org/tiny config.json
[ ! -e "$b/$gsha.incomplete" ] && [ ! -e "$b/$gsha" ] || t_fail "bad config.json .incomplete kept"
ft-fetch -q file org/tiny config.json >/dev/null || t_fail "config.json after a bad .incomplete"
t_cmp "$R/tiny/config.json" "$b/$gsha"

fresh 5
setmode fail 3 503
ft-fetch -q model org/tiny >/dev/null || t_fail "503 then success"
setmode fail 2 429
p=$(ft-fetch -q file org/sharded config.json) || t_fail "429 then success"
setmode fail 9 500
t_expect_fail 1 'org/tiny: config.json: HTTP 500 from .* after 3 tries and nothing is cached' \
	env FT_HUB_RETRIES=2 ft-fetch -q file -r v1.0 org/tiny config.json
# With a cached copy, a failing or slow Hub means "use the cache", at once.
setmode fail 99 503
mark
t_eq "$p" "$(ft-fetch -q file org/sharded config.json 2>"$T/err")" "503 with a cache"
grep -q 'warning: HTTP 503 from .* after 1 try: using the cache' "$T/err" || t_fail "503 fallback warning"
t_eq 1 "$(since | wc -l | tr -d ' ')" "requests with a cache and a failing Hub"
setmode slow
t_eq "$p" "$(HF_HUB_ETAG_TIMEOUT=1 ft-fetch -q file org/sharded config.json 2>"$T/err")" "timeout with a cache"
grep -q 'warning: cannot reach .*: using the cache' "$T/err" || t_fail "timeout fallback warning"
setmode badetag
t_expect_fail 1 'org/sharded: config.json: the server sent an unusable blob id' ft-fetch -q model -r v1.0 org/sharded
[ -z "$(find "$T" -name evil)" ] || t_fail "bad etag used as a file name"
setmode nocommit
t_expect_fail 1 'org/tiny: config.json: no X-Repo-Commit' ft-fetch -q model -r v1.0 org/tiny
setmode hugeheader
t_expect_fail 1 'org/tiny: config.json: response headers longer than' ft-fetch -q model -r v1.0 org/tiny
setmode

# --- datasets ---------------------------------------------------------------
mark
ft-fetch dataset org/sonnets >"$T/rows.jsonl" || t_fail "dataset"
t_cmp "$HUB/expected/sonnets-train.jsonl" "$T/rows.jsonl"
since | grep -q 'GET /rows?dataset=org%2Fsonnets&config=default&split=train&offset=100&length=100' \
	|| t_fail "no second page"
t_eq 2 "$(since | grep -c 'GET /rows')" "pages"
printf 'default\ttest\ndefault\ttrain\n' >"$T/list.want"
ft-fetch dataset --list org/sonnets >"$T/list" || t_fail "--list"
t_cmp "$T/list.want" "$T/list"
t_eq 3 "$(ft-fetch dataset --split test org/sonnets | wc -l | tr -d ' ')" "--split test"
t_eq '{"text":"b"}' "$(ft-fetch dataset --config b org/multi)" "--config b"
t_expect_fail 1 'org/multi: several configs' ft-fetch dataset org/multi
t_expect_fail 1 "org/sonnets: config 'default' has no split 'x'" ft-fetch dataset --split x org/sonnets
t_expect_fail 1 "org/sonnets: no config 'nope'" ft-fetch dataset --config nope org/sonnets
t_expect_fail 1 'org/none: /splits: The dataset does not exist' ft-fetch dataset org/none
t_expect_fail 1 'org/sonnets: /splits: .*(refused|connect)' ft-fetch dataset --viewer http://127.0.0.1:1 org/sonnets
HF_DATASETS_SERVER_URL=http://127.0.0.1:1 ft-fetch dataset --viewer "http://127.0.0.1:$HP/" org/sonnets >"$T/rows2.jsonl" \
	|| t_fail "--viewer over the environment"
t_cmp "$HUB/expected/sonnets-train.jsonl" "$T/rows2.jsonl"
# HF_ENDPOINT alone is enough for a mirror: the rows come from it, never
# from the public viewer (unreachable here)
env -u HF_DATASETS_SERVER_URL ft-fetch dataset org/sonnets >"$T/rows4.jsonl" ||
	t_fail "HF_ENDPOINT alone: dataset rows"
t_cmp "$HUB/expected/sonnets-train.jsonl" "$T/rows4.jsonl"
setmode fail 2 503
ft-fetch dataset org/sonnets >"$T/rows3.jsonl" || t_fail "viewer retry"
t_cmp "$HUB/expected/sonnets-train.jsonl" "$T/rows3.jsonl"
setmode
if [ -w /dev/full ]; then
	t_expect_fail 1 'stdout' sh -c 'ft-fetch dataset org/sonnets >/dev/full'
else
	t_skip_part "a full stdout: no /dev/full"
fi
echo "fetch: ok"
