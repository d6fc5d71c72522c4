#!/usr/bin/env python3
"""Writes small, self-made WSQ streams (seed inputs for the wsq fuzz target) into the
directory given: WxH frames with one Huffman table of 8-bit codes, random coefficients and
zero runs, the DTT (filter) segment taken from a real WSQ file given as the second
argument. Small images keep the fuzzer's executions fast; the real files are large."""
import random
import struct
import sys

out, real = sys.argv[1], sys.argv[2]
b = open(real, "rb").read()
i = b.find(b"\xff\xa4")
dtt = b[i : i + 2 + struct.unpack(">H", b[i + 2 : i + 4])[0]]


def seg(marker, body):
    return struct.pack(">HH", marker, len(body) + 2) + body


# 200 symbols with 8-bit codes 0..199 (never 0xFF): zero runs 1..100, coefficients -73..26
values = list(range(1, 101)) + list(range(107, 207))
counts = [0] * 16
counts[7] = len(values)
dht = seg(0xFFA6, bytes([0] + counts + values))
dqt = seg(0xFFA5, struct.pack(">BH", 1, 4) + struct.pack(">BHBH", 1, 10, 1, 12) * 64)
com = seg(0xFFA8, b"NIST_COM 3\nPIX_WIDTH 0\nPPI 500\n")
rnd = random.Random(7)
for w, h in [(1, 1), (2, 3), (9, 17), (32, 32), (64, 48), (100, 37)]:
    # subbands 60..63 (the bottom-right quarter) are never coded
    cap = w * h - (w // 2) * (h // 2)
    data, n = bytearray(), 0
    while n < cap:
        if rnd.random() < 0.2:
            run = rnd.randint(1, min(100, cap - n))
            code, n = run - 1, n + run
        else:
            code, n = 100 + rnd.randrange(100), n + 1
        data.append(code)
    sof = seg(0xFFA2, struct.pack(">BBHHBHBH", 0, 255, h, w, 0, 128, 1, 25) + b"\x00\x00")
    sob = seg(0xFFA3, b"\x00")
    stream = b"\xff\xa0" + com + dtt + dqt + dht + sof + sob + bytes(data) + b"\xff\xa1"
    open(f"{out}/gen-{w}x{h}.wsq", "wb").write(stream)
