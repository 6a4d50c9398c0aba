#!/usr/bin/python3
"""Fixture for lib/utf8stream: byte strings and what Python's
bytes.decode("utf-8", "replace") makes of them (the tokenizer's decode).

    python3 tests/ref/utf8_ref.py > tests/fixtures/sample/utf8.txt

Each line: input bytes in hex, a space, the decoded text's UTF-8 in hex
("-" for empty).  Standard library only."""
import random

cases = [
    b"", b"hello", b"\xe2\x82\xac", b"\xe2\x82", b"\xe2", b"\xc3\xa9t\xc3\xa9",
    b"\xf0\x9f\x98\x80", b"\xf0\x9f\x98", b"\xf0\x9f", b"\x80", b"\xbf\x80",
    b"\xc0\xaf", b"\xc1\xbf", b"\xe0\x80\xaf", b"\xe0\xa0\x80", b"\xed\xa0\x80",
    b"\xed\x9f\xbf", b"\xf4\x90\x80\x80", b"\xf4\x8f\xbf\xbf", b"\xf5\x80",
    b"\xff\xfe", b"\xe2\x82a", b"a\xf0\x9f\x98b", b"\xf0\x9f\x98\xf0\x9f\x98\x80",
    b"\xc3\xc3\xa9", b"\xe2\x28\xa1", b"\xf0\x28\x8c\xbc", b"\xf8\x88\x80\x80\x80",
]
rng = random.Random(7)
alphabet = [b"a", b" ", b"\n", b"\xc3", b"\xa9", b"\xe2", b"\x82", b"\xac",
            b"\xf0", b"\x9f", b"\x98", b"\x80", b"\xed", b"\xa0", b"\xff",
            b"\xc2", b"\xbf", b"\xe0", b"\xf4", b"\x90", b"\x8f"]
for _ in range(300):
    n = rng.randint(1, 24)
    cases.append(b"".join(rng.choice(alphabet) for _ in range(n)))
for _ in range(100):
    s = "".join(rng.choice("aé€😀\n ß") for _ in range(rng.randint(1, 10)))
    b = s.encode()
    cut = rng.randint(0, len(b))
    cases.append(b[:cut] + bytes([rng.randint(0x80, 0xff)]) + b[cut:])
for c in cases:
    out = c.decode("utf-8", "replace").encode()
    print((c.hex() or "-") + " " + (out.hex() or "-"))
