#!/bin/sh
# Token files (lib/tokfile) against the zstd command line tool: `zstd -dc`
# prints exactly the little-endian ids, `cat a.tok b.tok` reads as one
# file, writing to a pipe works, and bad files get one-line errors.
# Uses the test-only tool mode of build/tests/test_tokfile.
. "$FT_TOP/tests/cli/lib.sh"
t_tmp
tool=$FT_BUILD/tests/test_tokfile
[ -x "$tool" ] || t_fail "no $tool (run through make check)"
command -v zstd >/dev/null || t_fail "zstd not installed"

# Documents: one per line (an empty line is an empty document).
awk 'BEGIN { s = 7; for (d = 0; d < 300; d++) { n = (d * 37) % 211;
	if (d % 9 == 0) n = 0; line = "";
	for (i = 0; i < n; i++) { s = (s * 1103515245 + 12345) % 2147483648;
		line = line (i ? " " : "") (s % 50257) }
	print line } }' >"$T/a.txt"
awk 'BEGIN { for (d = 0; d < 40; d++) { line = "";
	for (i = 0; i < d; i++) line = line (i ? " " : "") (50256 - i * d)
	print line } }' >"$T/b.txt"

"$tool" write "$T/a.tok" 50257 50256 <"$T/a.txt" || t_fail "write a"
"$tool" dump "$T/a.tok" >"$T/a.out" || t_fail "dump a"
t_cmp "$T/a.txt" "$T/a.out"

# zstd -dc prints only the ids, as uint16 little-endian.
tr ' ' '\n' <"$T/a.txt" | grep . >"$T/a.ids"
zstd -q -dc "$T/a.tok" | od -An -v -tu2 -w2 | tr -d ' ' >"$T/a.zids" ||
	t_fail "zstd -dc"
t_cmp "$T/a.ids" "$T/a.zids"
zstd -q -t "$T/a.tok" || t_fail "zstd -t rejects a token file"
"$tool" raw "$T/a.tok" >"$T/a.raw" || t_fail "raw"
zstd -q -dc "$T/a.tok" >"$T/a.zraw"
t_cmp "$T/a.zraw" "$T/a.raw"

# uint32 ids above 65536 entries.
awk '{ for (i = 1; i <= NF; i++) $i = $i * 2 + 1; print }' "$T/a.txt" \
	>"$T/w.txt"
"$tool" write "$T/w.tok" 100515 <"$T/w.txt" || t_fail "write w"
tr ' ' '\n' <"$T/w.txt" | grep . >"$T/w.ids"
zstd -q -dc "$T/w.tok" | od -An -v -tu4 -w4 | tr -d ' ' >"$T/w.zids"
t_cmp "$T/w.ids" "$T/w.zids"

# Written in one forward pass: to a pipe.
"$tool" write - 50257 50256 <"$T/b.txt" | cat >"$T/b.tok"
cat "$T/b.tok" | "$tool" dump - >"$T/b.out" || t_fail "dump b from a pipe"
t_cmp "$T/b.txt" "$T/b.out"

# Concatenation is a token file.
cat "$T/a.tok" "$T/b.tok" >"$T/ab.tok"
cat "$T/a.txt" "$T/b.txt" >"$T/ab.txt"
"$tool" dump "$T/ab.tok" >"$T/ab.out" || t_fail "dump ab"
t_cmp "$T/ab.txt" "$T/ab.out"
cat "$T/a.ids" >"$T/ab.ids"; tr ' ' '\n' <"$T/b.txt" | grep . >>"$T/ab.ids"
zstd -q -dc "$T/ab.tok" | od -An -v -tu2 -w2 | tr -d ' ' >"$T/ab.zids"
t_cmp "$T/ab.ids" "$T/ab.zids"

# An empty corpus is a valid (header + trailer) file; zstd prints nothing.
: | "$tool" write "$T/e.tok" 50257 50256 || t_fail "write empty"
"$tool" dump "$T/e.tok" >"$T/e.out" || t_fail "dump empty"
[ ! -s "$T/e.out" ] || t_fail "empty token file has documents"
[ "$(zstd -q -dc "$T/e.tok" | wc -c)" -eq 0 ] || t_fail "zstd -dc empty"

# An independent reader written from ft-formats(5) agrees on every byte.
cat >"$T/spec.py" <<'PY'
# usage: spec.py FILE.tok IDS.bin BYTES_PER_ID; prints documents, one a line
import struct, sys, zlib
b = open(sys.argv[1], "rb").read()
def meta(i, kind):
    magic, n = struct.unpack_from("<II", b, i)
    p = b[i + 8:i + 8 + n]
    assert magic == 0x184D2A5E and p[:4] == b"FTOK" and p[4] == 1
    assert p[5:6] == kind or kind is None and p[5:6] in (b"I", b"T")
    assert p[6:8] == b"\0\0"
    assert zlib.crc32(p[:-4]) == struct.unpack("<I", p[-4:])[0], "crc"
    return p, i + 8 + n
blocks, i, first = [], 0, None
while i < len(b):
    p, i = meta(i, b"H")
    assert len(p) == 56
    w, (vocab, eos) = p[8], struct.unpack_from("<Ii", p, 12)
    assert w == (2 if vocab <= 65536 else 4) and -1 <= eos < vocab
    first = first or p[8:52]
    assert p[8:52] == first, "mismatched segments"
    ids = nblk = ndocs = icrc = 0
    while True:
        p, i = meta(i, None)
        if p[5:6] == b"T":
            assert struct.unpack_from("<QQQI", p, 8) == (ids, ndocs, nblk, icrc)
            assert len(p) == 40
            break
        nid, csize, dcrc, ne = struct.unpack_from("<IIII", p, 8)
        assert len(p) == 28 + 4 * ne
        ends = struct.unpack_from("<%dI" % ne, p, 24)
        icrc = zlib.crc32(p, icrc)
        if nid:
            frame = b[i:i + csize]; i += csize
            assert frame[:4] == b"\x28\xb5\x2f\xfd" and frame[4] & 4
            assert zlib.crc32(frame) == dcrc
        blocks.append((nid, ends))
        ids += nid; ndocs += ne; nblk += 1
# Documents from the block boundaries and the ids zstd printed.
raw = open(sys.argv[2], "rb").read()
w = int(sys.argv[3])
allids = struct.unpack("<%d%s" % (len(raw) // w, "HI"[w == 4]), raw)
out, cur, pos = [], [], 0
for nid, ends in blocks:
    prev = 0
    for e in ends:
        cur += allids[pos + prev:pos + e]; prev = e
        out.append(" ".join(map(str, cur))); cur = []
    cur += allids[pos + prev:pos + nid]; pos += nid
assert not cur and pos == len(allids)
print("\n".join(out))
PY
zstd -q -dc "$T/ab.tok" >"$T/ab.zraw"
python3 "$T/spec.py" "$T/ab.tok" "$T/ab.zraw" 2 >"$T/ab.spec" ||
	t_fail "spec reader rejects ab.tok"
t_cmp "$T/ab.txt" "$T/ab.spec"
zstd -q -dc "$T/w.tok" >"$T/w.zraw"
python3 "$T/spec.py" "$T/w.tok" "$T/w.zraw" 4 >"$T/w.spec" ||
	t_fail "spec reader rejects w.tok"
t_cmp "$T/w.txt" "$T/w.spec"

# Errors: one line naming the file.
: >"$T/empty.tok"
t_expect_fail 1 "'$T/empty.tok': not a token file \(empty\)" \
	"$tool" dump "$T/empty.tok"
t_expect_fail 1 "'$T/a.txt': not a token file \(bad magic\)" \
	"$tool" dump "$T/a.txt"
zstd -q -c "$T/a.raw" >"$T/plain.zst"
t_expect_fail 1 "'$T/plain.zst': .*not a token file" \
	"$tool" dump "$T/plain.zst"
t_expect_fail 1 "cannot open '$T/nope.tok'" "$tool" dump "$T/nope.tok"
size=$(wc -c <"$T/a.tok")
head -c $((size - 1)) "$T/a.tok" >"$T/cut1.tok"
t_expect_fail 1 "'$T/cut1.tok' offset [0-9]+: truncated" \
	"$tool" dump "$T/cut1.tok"
head -c $((size - 48)) "$T/a.tok" >"$T/cut2.tok"
t_expect_fail 1 "'$T/cut2.tok' offset [0-9]+: truncated token file \(missing trailer\)" \
	"$tool" dump "$T/cut2.tok"
head -c 2000 "$T/a.tok" >"$T/cut3.tok"
t_expect_fail 1 "'$T/cut3.tok' offset [0-9]+: truncated" \
	"$tool" dump "$T/cut3.tok"
# A flipped byte in the data frame and one in a metadata frame.
for at in 200 $((size - 20)); do
	cp "$T/a.tok" "$T/flip.tok"
	printf '\377' | dd of="$T/flip.tok" bs=1 seek=$at conv=notrunc 2>/dev/null
	t_expect_fail 1 "'$T/flip.tok' offset [0-9]+: corrupt" \
		"$tool" dump "$T/flip.tok"
done
# Unknown version (byte 12: the version byte of the header payload).
cp "$T/a.tok" "$T/v2.tok"
printf '\002' | dd of="$T/v2.tok" bs=1 seek=12 conv=notrunc 2>/dev/null
t_expect_fail 1 "'$T/v2.tok': unsupported token file version 2" \
	"$tool" dump "$T/v2.tok"
# Segments made with different tokenizers.
cat "$T/a.tok" "$T/w.tok" >"$T/mix.tok"
t_expect_fail 1 "'$T/mix.tok' offset [0-9]+: mismatched segments" \
	"$tool" dump "$T/mix.tok"
"$tool" write "$T/e2.tok" 50257 0 </dev/null
cat "$T/a.tok" "$T/e2.tok" >"$T/mix2.tok"
t_expect_fail 1 "mismatched segments" "$tool" dump "$T/mix2.tok"
# A failed write leaves no file.
echo "1 2 50257" | { "$tool" write "$T/bad.tok" 50257 2>"$T/err"; true; }
grep -q "out of range" "$T/err" || t_fail "no out-of-range message"
[ ! -e "$T/bad.tok" ] || t_fail "failed write left a file"
exit 0
