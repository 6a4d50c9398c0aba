#!/bin/sh
# Regenerate tests/fixtures/normalize/ (the `tokenizers` library's NFC,
# NFD, NFKC and NFKD for lib/normalize's unit test) and, from Debian's
# unicode-data (apt-get install unicode-data), lib/normalize_tables.h.
# Needs node, zstd, /usr/bin/python3 and, in $FT_NPM (default
# /work/bpe-npm), node_modules with `tokenizers`:
#   (cd $FT_NPM && npm init -y && npm install tokenizers@0.23.2)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
fix=$top/tests/fixtures/normalize
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$fix"
/usr/bin/python3 "$top/tests/ref/gen_normalize_tables.py"
node "$top/tests/ref/normalize_ref.mjs" "$tmp"
for f in cps ccc seqs; do zstd -q -19 -f -o "$fix/$f.txt.zst" "$tmp/$f.txt"; done
du -sh "$fix"
