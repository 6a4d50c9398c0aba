# Variants of real tokenizer.json files that exercise the pipeline parts
# the three shipped tokenizers do not use.  Shared by the oracle script
# (tests/ref/tokjson_ref.mjs runs it to make the files) and by
# tests/cli/tokjson.sh (which makes the same files to run ft on them).
#
#   python3 tests/ref/tokjson_variants.py SRC_DIR VARIANT OUT_DIR
# SRC_DIR holds tokenizer.json and tokenizer_config.json; OUT_DIR gets the
# changed copies.  VARIANT "nospecial" gives the special added tokens a
# content that never occurs (what `ft-tokenize --no-special` must then
# match; removing them would renumber the others).
import json, sys

def nfc_lower_ws(j):      # normalizers + Whitespace on a byte-level model
    j["normalizer"] = {"type": "Sequence", "normalizers": [
        {"type": "NFC"}, {"type": "Lowercase"},
        {"type": "Strip", "strip_left": True, "strip_right": True},
        {"type": "Replace", "pattern": {"Regex": "[0-9]+"}, "content": "#"}]}
    j["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Whitespace"},
        {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": False}]}
    # matched in the normalized text by its normalized content "hello"
    nid = max(max(j["model"]["vocab"].values()), max(a["id"] for a in j["added_tokens"])) + 1
    j["added_tokens"].append({"id": nid, "content": "HeLLo", "single_word": False, "lstrip": False,
                              "rstrip": False, "normalized": True, "special": False})

def split_kinds(j):       # Split behaviours, Digits, Punctuation, WhitespaceSplit
    j["normalizer"] = None
    j["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "WhitespaceSplit"},
        {"type": "Punctuation", "behavior": "MergedWithPrevious"},
        {"type": "Digits", "individual_digits": True},
        {"type": "Split", "pattern": {"String": "e"}, "behavior": "MergedWithNext", "invert": False},
        {"type": "Split", "pattern": {"Regex": "[aeiou]+"}, "behavior": "Contiguous", "invert": True},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": True}]}

def removed_gpt2(j):      # Split Removed + ByteLevel's own regex and prefix
    j["normalizer"] = None
    j["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "\\s+"}, "behavior": "Removed", "invert": False},
        {"type": "Digits", "individual_digits": False},
        {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True}]}

def metaspace(j):         # Metaspace pre-tokenizer/decoder on llama2's vocabulary
    j["normalizer"] = None
    j["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": True}
    j["decoder"] = {"type": "Sequence", "decoders": [
        {"type": "ByteFallback"}, {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": True}]}

def added_flags(j):       # lstrip / rstrip / single_word, non-special added tokens (contents
                          # not in the vocabulary, whose id tokenizers would keep)
    nid = max(max(j["model"]["vocab"].values()), max(a["id"] for a in j["added_tokens"])) + 1
    for i, (c, l, r, w, s) in enumerate([("<L>", True, False, False, True), ("<R>", False, True, False, True),
                                         ("zqxw", False, False, True, False), ("<N>", False, False, False, False)]):
        j["added_tokens"].append({"id": nid + i, "content": c, "single_word": w, "lstrip": l,
                                  "rstrip": r, "normalized": False, "special": s})

def nfkc(j):              # NFKC on a byte-level BPE (Qwen's Split + ByteLevel)
    j["normalizer"] = {"type": "NFKC"}

def nfd(j):               # NFD on Llama 3 (not with Lowercase: ft's case tables are
                          # Unicode 14.0's, Rust's to_lowercase newer ones)
    j["normalizer"] = {"type": "Sequence", "normalizers": [{"type": "NFD"}]}

def nfkd_meta(j):         # NFKD before Llama 2's own Prepend/Replace (SentencePiece-style, byte fallback)
    j["normalizer"] = {"type": "Sequence", "normalizers": [{"type": "NFKD"}] + j["normalizer"]["normalizers"]}

def metaspace_always(j):  # Metaspace "always" without split; a per-token Strip before Fuse
    j["normalizer"] = None
    j["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": False}
    j["decoder"] = {"type": "Sequence", "decoders": [
        {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": False},
        {"type": "ByteFallback"}, {"type": "Strip", "content": " ", "start": 0, "stop": 1}, {"type": "Fuse"}]}

def metaspace_never(j):   # Metaspace "never" with split
    j["normalizer"] = None
    j["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "never", "split": True}
    j["decoder"] = {"type": "Sequence", "decoders": [
        {"type": "ByteFallback"}, {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "never", "split": True}]}

def unk_fuse(j):          # Llama 2 without byte_fallback: unknown characters become
                          # <unk>, runs of them one (fuse_unk)
    j["model"]["byte_fallback"] = False
    j["model"]["fuse_unk"] = True

def unk_nofuse(j):        # the same, one <unk> per unknown character
    j["model"]["byte_fallback"] = False
    j["model"]["fuse_unk"] = False

VARIANTS = {"unk_fuse": unk_fuse, "unk_nofuse": unk_nofuse, "metaspace_always": metaspace_always, "metaspace_never": metaspace_never, "nfkc": nfkc, "nfd": nfd, "nfkd_meta": nfkd_meta,
            "nfc_lower_ws": nfc_lower_ws, "split_kinds": split_kinds,
            "removed_gpt2": removed_gpt2, "metaspace": metaspace, "added_flags": added_flags}

def main():
    src, var, out = sys.argv[1:4]
    j = json.load(open(src + "/tokenizer.json", encoding="utf-8"))
    c = json.load(open(src + "/tokenizer_config.json", encoding="utf-8"))
    if var == "nospecial":
        for a in j["added_tokens"]:
            if a["special"]:
                a["content"] = "\u0001\u0002ft-removed-%d\u0003" % a["id"]
    else:
        VARIANTS[var](j)
    json.dump(j, open(out + "/tokenizer.json", "w", encoding="utf-8"), ensure_ascii=False)
    json.dump(c, open(out + "/tokenizer_config.json", "w", encoding="utf-8"), ensure_ascii=False)

if __name__ == "__main__":
    main()
