#!/usr/bin/python3
"""Holds idle logged-in FTPS sessions for bench/scaling.mjs (stdlib only, Debian's python3).

  hold.py TOOLS_DIR HOST PORT MODE USER PASS SOURCE_ADDRESS

TOOLS_DIR is the shared harness's tools/ (its ftpsbench.py logs in exactly as its `hold` does).
Every session connects from SOURCE_ADDRESS (e.g. 127.0.0.11), so several of these processes look
like several clients. Commands on stdin, one answer line each on stdout:
  open N     open N more sessions, one after the other -> "opened TOTAL ERRORS LAST_ERROR"
  noop       NOOP on every session                     -> "alive N"
  probe N    N new sessions (connect, TLS, USER/PASS; then QUIT), one at a time, each timed
                                                       -> "probe MS MS ..."
  quit       QUIT every session, close, exit
"""
import resource, socket, sys, time

sys.path.insert(0, sys.argv[1])
import ftpsbench  # noqa: E402  (the harness's login and TLS context)

HOST, PORT, MODE, USER, PASS, SOURCE = sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[7]

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

_create = socket.create_connection


def from_source(address, timeout=None, source_address=None):
    return _create(address, timeout=timeout, source_address=(SOURCE, 0))


ftpsbench.socket.create_connection = from_source  # the harness's login() connects through this
ctx = ftpsbench.client_ctx()
conns = []


def login():
    return ftpsbench.login(HOST, PORT, MODE, USER, PASS, ctx, timeout=30)


def answer(text):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


for line in sys.stdin:
    words = line.split()
    if not words:
        continue
    if words[0] == "open":
        err, last = 0, ""
        for _ in range(int(words[1])):
            try:
                conns.append(login())
            except Exception as e:  # counted and reported
                err += 1
                last = repr(e)[:100].replace(" ", "_")
                if err > 20:
                    break
        answer(f"opened {len(conns)} {err} {last or '-'}")
    elif words[0] == "noop":
        alive = 0
        for s, c in conns:
            try:
                c.cmd("NOOP", 2)
                alive += 1
            except Exception:
                pass
        answer(f"alive {alive}")
    elif words[0] == "probe":
        times = []
        for _ in range(int(words[1])):
            t0 = time.perf_counter()
            try:
                s, c = login()
                times.append((time.perf_counter() - t0) * 1000)
                c.cmd("QUIT", 2)
                s.close()
            except Exception:
                times.append(-1)
        answer("probe " + " ".join(f"{t:.1f}" for t in times))
    elif words[0] == "quit":
        break

for s, c in conns:
    try:
        s.sendall(b"QUIT\r\n")
    except OSError:
        pass
for s, c in conns:
    try:
        s.close()
    except OSError:
        pass
