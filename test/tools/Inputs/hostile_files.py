"""Writes files whose headers lie about their sizes (hostile-inputs.test).

    hostile_files.py <prefix>

<prefix>.huge.npy: 128 bytes declaring 10^12 float32 elements.
<prefix>.short.safetensors: scores for a 4x8 weight whose data range holds
16 bytes instead of 128.
"""
import json
import struct
import sys

prefix = sys.argv[1]

header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000), }"
header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
npy = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode()
with open(prefix + ".huge.npy", "wb") as f:
    f.write((npy + bytes(128))[:128])

meta = json.dumps({"w": {"dtype": "F32", "shape": [4, 8],
                         "data_offsets": [0, 16]}}).encode()
with open(prefix + ".short.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(meta)) + meta + bytes(16))
