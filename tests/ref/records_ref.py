#!/usr/bin/python3
"""Reference records for lib/records (ft-split's input formats), made the
way datasets.load_dataset builds them (stdlib only; datasets and pandas are
not installed here, so their logic is reproduced from the upstream source):

  text  datasets/packaged_modules/text/text.py, _generate_tables, verbatim
        but for pyarrow (a small chunksize exercises its chunk joins)
  csv   csv.DictReader over open(newline="", encoding="utf-8-sig"): RFC 4180
        with a header row, every value a string (ft's rule; pandas would
        infer types)
  json  json.load of an array of objects

Writes into tests/fixtures/records/ the inputs and, per format, the JSONL
that `ft-split --no-shuffle --val-size 0 --FORMAT` must write (compact
json.dumps, ensure_ascii=False, as the tools write JSON).
"""
import csv
import json
import os
from io import StringIO

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "..", "fixtures", "records")

TEXT = {
    "a.txt": "first line\r\nsecond\rthird \"q\" \\ tab\there\n\n\n"
             "fourth para\nline 2 é ☃\n\n\n\nlast, without a newline",
    "b.txt": "",
    "c.txt": "\n",
    "d.txt": "one\n\ntwo\n\n",
}
CSV = {
    "a.csv": "\ufeffid,\"the text\",note\r\n"
             "1,\"Shall I compare thee, to a summer's day?\",plain\r\n"
             "\r\n"
             "2,\"He said \"\"no\"\"\r\nthen left\",\n"
             "3,,é ☃\r"
             "4,\"\",\"\"\n",
}
ARRAY = {
    "a.json": '[\n  {"id": 1, "text": "a b"},\n\t{"id":2,"text":"x\\ny",'
              ' "tags": ["p", "q"], "m": {"k": null}} ,{}\n]\n',
}


def text_loader(path, sample_by, chunksize=7, keep_linebreaks=False):
    rows = []
    with open(path, encoding="utf-8") as f:
        if sample_by == "line":
            while True:
                batch = f.read(chunksize)
                if not batch:
                    break
                batch += f.readline()
                batch = StringIO(batch).readlines()
                if not keep_linebreaks:
                    batch = [line.rstrip("\n") for line in batch]
                rows += batch
        elif sample_by == "paragraph":
            batch = ""
            while True:
                new_batch = f.read(chunksize)
                if not new_batch:
                    break
                batch += new_batch
                batch += f.readline()
                batch = batch.split("\n\n")
                rows += [example for example in batch[:-1] if example]
                batch = batch[-1]
            if batch:
                rows.append(batch)
        else:
            rows.append(f.read())
    return [{"text": t} for t in rows]


def dumps(o):
    return json.dumps(o, ensure_ascii=False, separators=(",", ":"))


def write(name, rows):
    with open(os.path.join(out, name), "w", encoding="utf-8", newline="") as f:
        for r in rows:
            f.write(dumps(r) + "\n")


for name, body in {**TEXT, **CSV, **ARRAY}.items():
    with open(os.path.join(out, name), "w", encoding="utf-8", newline="") as f:
        f.write(body)

for mode, flag in (("line", "lines"), ("paragraph", "paragraphs"),
                   ("document", "text")):
    for name in TEXT:
        write(f"{name}.{flag}.jsonl",
              text_loader(os.path.join(out, name), mode))
    # several files: concatenated in order
    write(f"all.{flag}.jsonl",
          [r for n in sorted(TEXT) for r in text_loader(os.path.join(out, n), mode)])

for name in CSV:
    with open(os.path.join(out, name), encoding="utf-8-sig", newline="") as f:
        write(f"{name}.jsonl", list(csv.DictReader(f)))

for name in ARRAY:
    with open(os.path.join(out, name), encoding="utf-8") as f:
        write(f"{name}.jsonl", json.load(f))
