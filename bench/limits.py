#!/usr/bin/env python3
"""The write limit: the time to write the same block bytes into a SQLite file in large
transactions (256 MiB), with the block sizes of the realm, and nothing else. Pages are
64 KiB, SQLite's largest and the export file's own: with the default 4 KiB pages a 512 KiB
block is a chain of 128 overflow pages, and that slower write would flatter the export.
Usage: limits.py SIZES_FILE OUT.sqlite   (SIZES_FILE: one block size per line)"""
import os
import sqlite3
import sys
import time

sizes = [int(x) for x in open(sys.argv[1]) if x.strip()]
out = sys.argv[2]
if os.path.exists(out):
    os.remove(out)
buf = os.urandom(max(sizes))
conn = sqlite3.connect(out, isolation_level=None)
conn.execute("PRAGMA page_size=65536")
conn.execute("PRAGMA synchronous=FULL")
conn.execute("CREATE TABLE block_data (block INTEGER PRIMARY KEY, data BLOB NOT NULL)")
start = time.time()
pending = 0
conn.execute("BEGIN")
for i, n in enumerate(sizes):
    conn.execute("INSERT INTO block_data VALUES (?, ?)", (i, buf[:n]))
    pending += n
    if pending >= 256 << 20:
        conn.execute("COMMIT")
        conn.execute("BEGIN")
        pending = 0
conn.execute("COMMIT")
conn.close()
print(f"{time.time() - start:.2f}")
os.remove(out)
