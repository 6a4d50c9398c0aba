#!/usr/bin/python3
"""Generate lib/normalize_tables.h (the tables of lib/normalize.c: NFD,
NFC, NFKD, NFKC as the Hugging Face `tokenizers` library computes them)
from the Unicode Character Database of Debian's `unicode-data` package
(/usr/share/unicode, Unicode 15.0.0), cut to the Unicode version of the
`unicode-normalization-alignments` crate that `tokenizers` uses.

    python3 tests/ref/gen_normalize_tables.py [UCD_DIR]

The crate's tables are older than the UCD here; since Unicode's stability
policy freezes the decomposition mapping and combining class of a code
point once it is assigned, and composition exclusions are only ever added
for new code points, the crate's data is exactly the UCD's restricted to
the code points whose DerivedAge is <= AGE.  The crate is at Unicode
9.0.0: comparing the npm `tokenizers` 0.23.2 normalizers with this UCD at
every code point (NFD and NFKD of each one, and NFD of "a" X U+0334 and
"a" U+0301 X, which reorder by X's combining class) gives no difference
with AGE 9.0 and differences with any later one (10.0: U+0D3B, U+0D3C,
U+1DF6..U+1DF9 ... have a combining class; 12.0: U+1F16C decomposes).
tests/ref/normalize_ref.mjs makes the fixtures that pin this down.

Tables (code points outside them are their own decomposition, ccc 0):
  nm_stage1/nm_stage2  per code point: ccc (low 8 bits) and flags
                       F_CANON (has a canonical decomposition), F_COMPAT
                       (its full compatibility decomposition differs from
                       the canonical one), F_SECOND (second of a primary
                       composite: NFC_QC Maybe), F_NFC_NO, F_NFKC_NO (the
                       form changes the code point on its own)
  nm_decomp            cp -> (offset, length, compat) into nm_pool, full
                       (recursive) decompositions; canonical rows, then
                       compatibility rows for F_COMPAT code points
  nm_compose           primary composites: (a << 32 | b) -> c, sorted
Hangul syllables are algorithmic (UAX #15 3.12), not in the tables.
"""
import os
import sys

AGE = (9, 0)    # unicode-normalization-alignments 0.1.12: Unicode 9.0.0

here = os.path.dirname(os.path.abspath(__file__))
out_path = os.path.join(here, "..", "..", "lib", "normalize_tables.h")
ucd = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/unicode"

S_BASE, S_COUNT = 0xAC00, 11172
L_BASE, V_BASE, T_BASE = 0x1100, 0x1161, 0x11A7
L_COUNT, V_COUNT, T_COUNT = 19, 21, 28


def lines(name):
    with open(os.path.join(ucd, name), encoding="utf-8") as f:
        for ln in f:
            ln = ln.split("#", 1)[0].strip()
            if ln:
                yield [x.strip() for x in ln.split(";")]


def span(s):
    a, _, b = s.partition("..")
    return int(a, 16), int(b or a, 16)


age = {}
for f in lines("DerivedAge.txt"):
    lo, hi = span(f[0])
    v = tuple(int(x) for x in f[1].split("."))
    for c in range(lo, hi + 1):
        age[c] = v


def assigned(c):
    return c in age and age[c] <= AGE


ccc, dmap, compat_tag = {}, {}, {}
first = None
for f in lines("UnicodeData.txt"):
    c = int(f[0], 16)
    if f[1].endswith(", First>"):
        first = c
        continue
    if not assigned(c):
        continue
    if int(f[3]):
        ccc[c] = int(f[3])
    if f[5]:
        parts = f[5].split()
        tag = parts[0].startswith("<")
        if tag:
            parts = parts[1:]
        dmap[c] = [int(x, 16) for x in parts]
        compat_tag[c] = tag
# ranges (<CJK Ideograph, First> ...) have no decomposition or ccc

excl = set()
for f in lines("CompositionExclusions.txt"):
    c = span(f[0])[0]
    if assigned(c):
        excl.add(c)


def full(c, compat):
    if S_BASE <= c < S_BASE + S_COUNT:
        i = c - S_BASE
        r = [L_BASE + i // (V_COUNT * T_COUNT),
             V_BASE + (i % (V_COUNT * T_COUNT)) // T_COUNT]
        if i % T_COUNT:
            r.append(T_BASE + i % T_COUNT)
        return r
    if c in dmap and (compat or not compat_tag[c]):
        return [x for d in dmap[c] for x in full(d, compat)]
    return [c]


def reorder(s):
    s = list(s)
    for i in range(1, len(s)):
        j = i
        while j > 0 and ccc.get(s[j], 0) and ccc.get(s[j - 1], 0) > ccc[s[j]]:
            s[j - 1], s[j] = s[j], s[j - 1]
            j -= 1
    return s


# primary composites: canonical two-code-point mappings, not excluded,
# not from a non-starter (full composition exclusion: singletons, non-
# starter decompositions, the exclusion list)
compose = {}
for c, d in dmap.items():
    if compat_tag[c] or len(d) != 2 or c in excl or ccc.get(c, 0) or \
            ccc.get(d[0], 0):
        continue
    compose[(d[0], d[1])] = c
second = {b for _, b in compose} | set(range(V_BASE, V_BASE + V_COUNT)) | \
    set(range(T_BASE + 1, T_BASE + T_COUNT))


def compose_seq(s):
    out = list(s)
    if not out:
        return out
    res = [out[0]]
    starter, last_ccc = 0, -1 if ccc.get(out[0], 0) == 0 else 256
    if ccc.get(out[0], 0):
        starter = None
    for c in out[1:]:
        k = ccc.get(c, 0)
        if starter is not None:
            a = res[starter]
            comp = None
            if L_BASE <= a < L_BASE + L_COUNT and V_BASE <= c < V_BASE + V_COUNT \
                    and last_ccc == -1:
                comp = S_BASE + ((a - L_BASE) * V_COUNT + c - V_BASE) * T_COUNT
            elif S_BASE <= a < S_BASE + S_COUNT and (a - S_BASE) % T_COUNT == 0 \
                    and T_BASE < c < T_BASE + T_COUNT and last_ccc == -1:
                comp = a + c - T_BASE
            elif (a, c) in compose and (last_ccc == -1 or last_ccc < k):
                comp = compose[(a, c)]
            if comp is not None:
                res[starter] = comp
                continue
        if k == 0:
            starter = len(res)
            last_ccc = -1
        else:
            last_ccc = k
        res.append(c)
    return res


F_CANON, F_COMPAT, F_SECOND, F_NFC_NO, F_NFKC_NO = \
    1 << 8, 1 << 9, 1 << 10, 1 << 11, 1 << 12

canon_rows, compat_rows, prop = [], [], {}
for c in range(0x110000):
    if 0xD800 <= c <= 0xDFFF:
        continue
    v = ccc.get(c, 0)
    hangul = S_BASE <= c < S_BASE + S_COUNT
    d = full(c, False)
    k = full(c, True)
    if d != [c]:
        v |= F_CANON
        if not hangul:
            canon_rows.append((c, d))
    if k != d:
        v |= F_COMPAT
        compat_rows.append((c, k))
    if c in second:
        v |= F_SECOND
    if compose_seq(reorder(d)) != [c]:
        v |= F_NFC_NO
    if compose_seq(reorder(k)) != [c]:
        v |= F_NFKC_NO
    if v:
        prop[c] = v

pool, rows = [], []
index = {}
for compat, tab in ((0, canon_rows), (1, compat_rows)):
    for c, d in tab:
        key = tuple(d)
        if key not in index:
            # one copy of each distinct sequence
            index[key] = len(pool)
            pool.extend(d)
        rows.append((c, index[key], len(d), compat))
assert len(pool) < 65536 and max(r[2] for r in rows) < 256

# two-stage table of uint16 properties, 128 code points a block
BLK = 128
blocks, stage1 = {}, []
stage2 = []
for b in range(0x110000 // BLK):
    blk = tuple(prop.get(b * BLK + i, 0) for i in range(BLK))
    if blk not in blocks:
        blocks[blk] = len(blocks)
        stage2.extend(blk)
    stage1.append(blocks[blk])
assert len(blocks) < 256


def fmt(items, per):
    return "\n".join("\t" + " ".join(items[i:i + per])
                     for i in range(0, len(items), per))


o = []
o.append("/* normalize_tables.h — GENERATED by tests/ref/gen_normalize_tables.py")
o.append(" * from the Unicode 15.0.0 UCD cut to Unicode %d.%d (the version of the" % AGE)
o.append(" * `tokenizers` library's normalizers); do not edit. */")
o.append("#ifndef FT_NORMALIZE_TABLES_H\n#define FT_NORMALIZE_TABLES_H\n")
o.append('#define NM_UNICODE_VERSION "%d.%d.0"' % AGE)
o.append("#define NM_F_CANON 0x%x" % F_CANON)
o.append("#define NM_F_COMPAT 0x%x" % F_COMPAT)
o.append("#define NM_F_SECOND 0x%x" % F_SECOND)
o.append("#define NM_F_NFC_NO 0x%x" % F_NFC_NO)
o.append("#define NM_F_NFKC_NO 0x%x" % F_NFKC_NO)
o.append("#define NM_BLOCK %d" % BLK)
o.append("#define NM_DECOMP_MAX %d" % max(r[2] for r in rows))
o.append("#define NM_NCANON %d  /* nm_decomp[0..NM_NCANON): canonical */\n" % len(canon_rows))
o.append("static const uint8_t nm_stage1[%d] = {" % len(stage1))
o.append(fmt(["%d," % x for x in stage1], 16))
o.append("};")
o.append("static const uint16_t nm_stage2[%d] = {" % len(stage2))
o.append(fmt(["0x%x," % x for x in stage2], 12))
o.append("};")
o.append("/* code point, pool offset, length, compatibility row */")
o.append("static const struct nm_decomp { uint32_t cp; uint16_t off; "
         "uint8_t len, compat; } nm_decomp[%d] = {" % len(rows))
o.append(fmt(["{0x%x, %d, %d, %d}," % r for r in rows], 3))
o.append("};")
o.append("static const uint32_t nm_pool[%d] = {" % len(pool))
o.append(fmt(["0x%x," % x for x in pool], 8))
o.append("};")
o.append("/* (a << 32 | b) -> c, sorted by key */")
o.append("static const struct nm_comp { uint64_t key; uint32_t c; } "
         "nm_compose[%d] = {" % len(compose))
o.append(fmt(["{0x%xull, 0x%x}," % ((a << 32) | b, c)
              for (a, b), c in sorted(compose.items())], 3))
o.append("};\n\n#endif")
with open(out_path, "w", encoding="utf-8") as f:
    f.write("\n".join(o) + "\n")
print("%s: %d decompositions (pool %d), %d composites, %d blocks" %
      (out_path, len(rows), len(pool), len(compose), len(blocks)))
