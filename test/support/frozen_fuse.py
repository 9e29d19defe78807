"""A FUSE filesystem that never answers: each call into it blocks, as on a dead NFS server.

Run with the /dev/fuse descriptor of a fresh FUSE mount as standard input (see frozen-fuse.ts). It
answers the kernel's INIT, then writes one JSON line per request on standard output
({"msg": "fuse request", "op": N, "name": "..."}: a LOOKUP's name), and answers none of them.
Its first line gives its pid ({"msg": "fuse responder", "pid": N}). Its end (SIGTERM, or its
parent's: the process the mount serves) ends the mount's connection: the calls waiting then fail.
"""

import ctypes
import json
import os
import signal
import struct
import sys

PR_SET_PDEATHSIG = 1
ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
parent = os.getppid()
if parent == 1:
    sys.exit(0)

print(json.dumps({"msg": "fuse responder", "pid": os.getpid()}), flush=True)

FUSE_LOOKUP = 1
FUSE_INIT = 26
# Lookups in one directory at once (else each waits for the one before, which is never answered).
FUSE_PARALLEL_DIROPS = 1 << 18
IN_HEADER = struct.Struct("<IIQQIIIHH")  # len, opcode, unique, nodeid, uid, gid, pid, extlen, pad

while True:
    try:
        request = os.read(0, 1 << 20)
    except OSError:
        sys.exit(0)  # the mount is gone
    length, opcode, unique, *_ = IN_HEADER.unpack_from(request)
    body = request[IN_HEADER.size : length]
    if opcode == FUSE_INIT:
        _, _, max_readahead, offered = struct.unpack_from("<IIII", body)
        flags = offered & FUSE_PARALLEL_DIROPS
        # fuse_init_out: protocol 7.31.
        init = struct.pack("<IIIIHHIIHHI7I", 7, 31, max_readahead, flags, 16, 12, 1 << 16, 1, 0, 0, 0, *[0] * 7)
        os.write(0, struct.pack("<IiQ", 16 + len(init), 0, unique) + init)
        continue
    name = body.split(b"\0", 1)[0].decode("utf-8", "replace") if opcode == FUSE_LOOKUP else ""
    print(json.dumps({"msg": "fuse request", "op": opcode, "name": name}), flush=True)
