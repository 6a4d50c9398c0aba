#!/usr/bin/env python3
"""Reference safetensors writer in plain Python, and the fixtures of
tests/unit/test_safetensors.c.

The `safetensors` package is not installed here, so this follows the rules
of its Rust writer (safetensors::tensor::prepare/serialize, docs/hf-reference.md
section 7) line by line:
  - tensors sorted by dtype descending in the Dtype enum order
    (BOOL < U8 < I8 < I16 < U16 < F16 < BF16 < I32 < U32 < F32 < F64 < I64
    < U64), then by name (byte-wise ascending);
  - data laid out in that order, offsets relative to the data buffer;
  - header = compact JSON (serde_json): "__metadata__" first (when given),
    then each tensor as {"dtype":..,"shape":[..],"data_offsets":[b,e]};
    strings escaped like serde_json (json.dumps with ensure_ascii=False
    escapes the same characters the same way);
  - header padded with spaces to a multiple of 8; u64 little-endian length.

Writes (run from the repository root: python3 tests/ref/safetensors_ref.py):
  tests/fixtures/safetensors/ref.safetensors      mixed dtypes, metadata
  tests/fixtures/safetensors/ref_f32.safetensors  the float tensors of
      ref.safetensors converted to F32 by Python (struct 'e', bf16 bits)
"""
import json
import math
import os
import struct
import sys

ORDER = ["BOOL", "U8", "I8", "I16", "U16", "F16", "BF16", "I32", "U32",
         "F32", "F64", "I64", "U64"]
SIZE = {"BOOL": 1, "U8": 1, "I8": 1, "I16": 2, "U16": 2, "F16": 2,
        "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8,
        "U64": 8}


def jstr(s):
    return json.dumps(s, ensure_ascii=False)


def serialize(tensors, metadata=None):
    """tensors: dict name -> (dtype, shape, bytes). Returns file bytes."""
    items = sorted(tensors.items(), key=lambda kv: kv[0].encode())
    items.sort(key=lambda kv: -ORDER.index(kv[1][0]))  # stable: name order kept
    parts, data, off = [], [], 0
    if metadata is not None:
        parts.append(jstr("__metadata__") + ":{" + ",".join(
            jstr(k) + ":" + jstr(v) for k, v in metadata.items()) + "}")
    for name, (dtype, shape, raw) in items:
        n = SIZE[dtype] * math.prod(shape)
        assert len(raw) == n, name
        parts.append(jstr(name) + ':{"dtype":' + jstr(dtype) + ',"shape":[' +
                     ",".join(str(d) for d in shape) +
                     '],"data_offsets":[%d,%d]}' % (off, off + n))
        off += n
        data.append(raw)
    header = ("{" + ",".join(parts) + "}").encode()
    header += b" " * ((8 - len(header) % 8) % 8)
    return struct.pack("<Q", len(header)) + header + b"".join(data)


def pack(fmt, values):
    return struct.pack("<%d%s" % (len(values), fmt), *values)


def main():
    out = "tests/fixtures/safetensors"
    if not os.path.isdir(out):
        sys.exit("run from the repository root")
    f32 = [((i * 37) % 101 - 50) / 8.0 for i in range(20)]
    f16_bits = [0x3c00, 0xc100, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x8000,
                0x7c00, 0xfc00, 0x7e00, 0x3555, 0x0000]
    bf16_bits = [0x3f80, 0xc020, 0x7f7f, 0x0001, 0x8000, 0x7f80, 0xff80,
                 0x7fc0, 0x4049, 0x3eaa]
    f64 = [1.0, -0.1, 3.141592653589793, 1e-30, -2.5e30, 0.0]
    tensors = {
        "transformer.wte.weight": ("F32", [5, 4], pack("f", f32)),
        "transformer.h.0.ln_1.bias": ("F32", [3], pack("f", [0.5, -1, 2])),
        "half": ("F16", [3, 4], pack("H", f16_bits)),
        "brain": ("BF16", [2, 5], pack("H", bf16_bits)),
        "double": ("F64", [6], pack("d", f64)),
        "scalar": ("F32", [], pack("f", [-1e4])),
        "empty": ("F32", [0, 3], b""),
        "empty16": ("F16", [4, 0], b""),
        "i64": ("I64", [2], pack("q", [-5, 1 << 40])),
        "u64": ("U64", [1], pack("Q", [(1 << 64) - 1])),
        "i32": ("I32", [2, 1], pack("i", [-7, 7])),
        "u32": ("U32", [1], pack("I", [4000000000])),
        "i16": ("I16", [3], pack("h", [-3, 0, 3])),
        "u16": ("U16", [1], pack("H", [65535])),
        "i8": ("I8", [2], pack("b", [-128, 127])),
        "u8": ("U8", [3], bytes([0, 1, 255])),
        "bool": ("BOOL", [1, 1, 1, 1, 1, 1, 1, 2], bytes([1, 0])),
        "h.0.attn.bias": ("F32", [1, 1, 2, 2], pack("f", [1, 0, 1, 1])),
        "\u00f1ame/\u00e9\u2603": ("U8", [1], bytes([42])),
        "q\"uote\\tab\t\x01\x7f": ("U8", [1], bytes([43])),
        "A": ("U8", [1], bytes([44])),
    }
    with open(os.path.join(out, "ref.safetensors"), "wb") as f:
        f.write(serialize(tensors, {"format": "pt"}))

    def as_f32(dtype, raw):
        n = len(raw) // SIZE[dtype]
        if dtype == "F16":
            vals = struct.unpack("<%de" % n, raw)
        elif dtype == "BF16":
            vals = [struct.unpack("<f", struct.pack("<I", b << 16))[0]
                    for b in struct.unpack("<%dH" % n, raw)]
        elif dtype == "F64":
            vals = struct.unpack("<%dd" % n, raw)
        else:
            vals = struct.unpack("<%df" % n, raw)
        return pack("f", vals)

    conv = {name: ("F32", shape, as_f32(dtype, raw))
            for name, (dtype, shape, raw) in tensors.items()
            if dtype in ("F16", "BF16", "F64", "F32")}
    with open(os.path.join(out, "ref_f32.safetensors"), "wb") as f:
        f.write(serialize(conv))


if __name__ == "__main__":
    main()
