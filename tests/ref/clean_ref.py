#!/usr/bin/python3
"""Reference for ft-clean: Python 3.11 str.lower/strip, re.sub(r"\\s+"),
unicodedata NFC, on a Unicode-heavy corpus (plain stdlib).

  clean_ref.py            rewrite tests/fixtures/clean/{corpus.jsonl,*.out}
  clean_ref.py --check-all   every code point in context, likewise
  clean_ref.py --check N [SEED]
                          generate a fresh corpus of N records, run
                          build/bin/ft-clean with every option set, compare
                          (for checking on inputs the fixtures never saw)

Output rule (ft-clean's): a record whose text does not change is copied
as is; otherwise only the text value is rewritten, escaped like
json.dumps(ensure_ascii=False).  The corpus lines are themselves
json.dumps(obj, ensure_ascii=False, separators=(",", ":")), so the
expected line is that of the updated object.
"""
import json
import os
import random
import re
import subprocess
import sys
import unicodedata

here = os.path.dirname(os.path.abspath(__file__))
top = os.path.join(here, "..", "..")
fix = os.path.join(top, "tests", "fixtures", "clean")

OPTION_SETS = {
    "lower_strip_eos": ["--lower", "--strip", "--append", "<|eos|>"],
    "lower_strip": ["--lower", "--strip"],
    "nfc": ["--nfc"],
    "all": ["--nfc", "--lower", "--collapse-whitespace", "--strip",
            "--prepend", "\u00bb "],
    "filters": ["--strip", "--drop-empty", "--min-chars", "3",
                "--max-chars", "40", "--dedupe"],
    "field": ["--field", "title", "--lower", "--dedupe"],
}


def apply(opts, s):
    """Returns the new text, or None when the record is dropped."""
    o = list(opts)
    field_ops = []
    args = {}
    i = 0
    while i < len(o):
        if o[i] in ("--append", "--prepend", "--min-chars", "--max-chars",
                    "--field"):
            args[o[i]] = o[i + 1]
            i += 2
        else:
            field_ops.append(o[i])
            i += 1
    if "--nfc" in field_ops:
        s = unicodedata.normalize("NFC", s)
    if "--lower" in field_ops:
        s = s.lower()
    if "--collapse-whitespace" in field_ops:
        s = re.sub(r"\s+", " ", s)
    if "--strip" in field_ops:
        s = s.strip()
    if "--drop-empty" in field_ops and s == "":
        return None
    if "--min-chars" in args and len(s) < int(args["--min-chars"]):
        return None
    if "--max-chars" in args and len(s) > int(args["--max-chars"]):
        return None
    return args.get("--prepend", "") + s + args.get("--append", "")


def expected(opts, lines):
    field = opts[opts.index("--field") + 1] if "--field" in opts else "text"
    seen = set()
    out = []
    for line in lines:
        obj = json.loads(line)
        old = obj[field]
        new = apply(opts, old)
        if new is None:
            continue
        if "--dedupe" in opts:
            # dedupe sees the text before --prepend/--append
            core = apply([x for x in opts], old)
            pre = opts[opts.index("--prepend") + 1] if "--prepend" in opts else ""
            app = opts[opts.index("--append") + 1] if "--append" in opts else ""
            core = core[len(pre):len(core) - len(app)]
            if core in seen:
                continue
            seen.add(core)
        if new == old:
            out.append(line)
        else:
            obj[field] = new
            out.append(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))
    return out


def pools(rng):
    assigned = [c for c in range(0x110000)
                if not (0xD800 <= c <= 0xDFFF)
                and unicodedata.category(chr(c)) not in ("Cn", "Cs")]
    spaces = [chr(c) for c in range(0x110000) if chr(c).isspace()]
    marks = [chr(c) for c in range(0x300, 0x370)] + ["\u0323", "\u0338",
             "\u05b0", "\u0e49", "\u302a", "\u1dc0", "\u20d0", "\u093c"]
    letters = ("ΣΑΒΓΔΕΖΗΘσςαβγδ" "İIıiŞşĞğ" "ÆØÅæøåÄÖÜß" "ǅǄǆᾈᾀ" "ẞ"
               "АБВГДЕЁЖабвгдеёж" "ԱԲԳաբգ" "ႠႡႢⴀⴁ" "ᲐᲑაბ"
               "ᎠᎡᎢꭰꭱ" "𐐀𐐁𐐨𐐩" "𞤀𞤁𞤢𞤣" "ⅠⅡⅰⅱ" "ⒶⒷⓐⓑ" "ＡＢａｂ"
               "Åé" "가각힣각" "क़ड़" "ﬃﬀ" "ŉǰΐ" "’‘“”—–…" "日本語中文" "😀👍🏽👨‍👩‍👧" "\u200b\ufeff\u00ad")
    ascii_ = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:'!?-\"\\/"
    controls = ["\x00", "\x01", "\x1f", "\x7f", "\x08", "\x0c"]
    return assigned, spaces, marks, letters, ascii_, controls


def gen_text(rng, P):
    assigned, spaces, marks, letters, ascii_, controls = P
    kind = rng.random()
    if kind < 0.05:
        return rng.choice(["", " ", "\n\t ", "\u3000\u2028"])
    n = rng.randint(1, 60)
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.3:
            out.append(rng.choice(ascii_))
        elif r < 0.5:
            out.append(rng.choice(letters))
        elif r < 0.6:
            out.append(rng.choice(marks))
        elif r < 0.72:
            out.append(rng.choice(spaces))
        elif r < 0.75:
            out.append(rng.choice(controls))
        elif r < 0.85:
            out.append("Σ" if rng.random() < 0.5 else rng.choice(letters) + "Σ")
        else:
            out.append(chr(rng.choice(assigned)))
    s = "".join(out)
    if rng.random() < 0.3:
        s = rng.choice(spaces) + s + rng.choice(spaces)
    return s


def gen_corpus(n, seed):
    rng = random.Random(seed)
    P = pools(rng)
    lines, texts = [], []
    for i in range(n):
        if texts and rng.random() < 0.08:     # duplicates, some only after cleaning
            t = rng.choice(texts)
            t = rng.choice([t, t.upper(), " " + t + "\n"])
        else:
            t = gen_text(rng, P)
        texts.append(t)
        obj = {"id": i}
        if rng.random() < 0.3:
            obj["meta"] = {"text": "nested " + str(i), "score": rng.choice([0.25, -3, 1.5e-07, 12345678901234])}
        obj["text"] = t
        obj["title"] = rng.choice(["Sonnet", "SONNET", "Ode ΣΑΣ", "İstanbul"])
        if rng.random() < 0.2:
            obj["tags"] = ["a", "é", None, True]
        lines.append(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))
    return lines


def main():
    if len(sys.argv) > 1 and sys.argv[1] in ("--check", "--check-all"):
        if sys.argv[1] == "--check-all":
            # every code point, alone and in a context with marks and Σ
            lines = [json.dumps({"text": chr(c) + "\u0327\u0301" + chr(c) + "\u03a3 A" + chr(c)},
                                ensure_ascii=False, separators=(",", ":"))
                     for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
        else:
            n = int(sys.argv[2])
            seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
            lines = gen_corpus(n, seed)
        data = ("\n".join(lines) + "\n").encode()
        tool = os.path.join(top, "build", "bin", "ft-clean")
        bad = 0
        for name, opts in OPTION_SETS.items():
            if sys.argv[1] == "--check-all" and "--field" in opts:
                continue
            got = subprocess.run([tool] + opts, input=data, capture_output=True,
                                 check=True).stdout.decode().split("\n")[:-1]
            want = expected(opts, lines)
            same = got == want
            bad += not same
            print("%-16s %s (%d records out)" % (name, "same" if same else "DIFFERENT", len(want)))
        sys.exit(1 if bad else 0)
    lines = gen_corpus(400, 2026)
    with open(os.path.join(fix, "corpus.jsonl"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(fix, "options.txt"), "w", encoding="utf-8") as f:
        for name, opts in OPTION_SETS.items():
            f.write(name + "\t" + "\t".join(opts) + "\n")
            with open(os.path.join(fix, name + ".out"), "w", encoding="utf-8") as g:
                for line in expected(opts, lines):
                    g.write(line + "\n")


main()
