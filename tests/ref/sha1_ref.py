#!/usr/bin/python3
"""Prints the expected digests committed in tests/unit/test_sha1.c:
hashlib.sha1 of the pattern (i*7+3)&255 at block-boundary lengths, and git
blob ids (sha1 of "blob SIZE\\0" + content)."""
import hashlib

pat = bytes(((i * 7 + 3) & 255) for i in range(1000))
for n in (0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 1000):
    print('\t{ %d, "%s" },' % (n, hashlib.sha1(pat[:n]).hexdigest()))
for n in (0, 55, 1000):
    d = pat[:n]
    print('\t{ %d, "%s" },' % (n, hashlib.sha1(b"blob %d\0" % n + d).hexdigest()))
