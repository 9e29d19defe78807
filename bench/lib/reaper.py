"""Runs one server for the Ferry benchmark as a child subreaper (run with /usr/bin/python3).

Usage: reaper.py COMMAND [ARGS...]

vsftpd forks a process (two after login) per session. As a child subreaper this process adopts any
session process orphaned when its parent dies and reaps it, so none is left a zombie under a PID 1
that does not reap (containers). It prints `[reaper] server pid N` on stderr, then waits until the
server exits, its stdin reaches EOF (the benchmark stopped it, or died) or it gets SIGTERM/SIGINT.
Then it terminates every descendant (SIGTERM, SIGKILL after 5 s), reaps them and exits.
A trimmed copy of the approach of test/support/peer_supervisor.py.
"""

import ctypes
import os
import select
import signal
import sys
import time


def descendants(me):
    parent = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode("latin-1")
        except OSError:
            continue
        rest = stat[stat.rfind(")") + 2 :].split()
        if rest[0] != "Z":
            parent[int(entry)] = int(rest[1])
    found, frontier = set(), {me}
    while frontier:
        frontier = {pid for pid, pp in parent.items() if pp in frontier and pid not in found}
        found |= frontier
    return found


def reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def main():
    cmd = sys.argv[1:]
    if not cmd:
        sys.exit(2)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    stop = {"now": False}
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, lambda *_: stop.update(now=True))
    signal.signal(signal.SIGCHLD, lambda *_: None)
    # vsftpd writes startup errors ("500 OOPS") to fd 0: give it a pipe to our stderr.
    fd0_r, fd0_w = os.pipe()
    server = os.fork()
    if server == 0:
        signal.set_wakeup_fd(-1)
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(s, signal.SIG_DFL)
        os.dup2(fd0_w, 0)
        for fd in (wake_r, wake_w, fd0_r, fd0_w):
            os.close(fd)
        try:
            os.execv(cmd[0], cmd)
        except OSError as e:
            os.write(2, f"[reaper] cannot run {cmd[0]}: {e}\n".encode())
        os._exit(127)
    os.close(fd0_w)
    sys.stderr.write(f"[reaper] server pid {server}\n")
    sys.stderr.flush()
    server_done = False
    stdin_open = True
    fd0_open = True
    while not (server_done or stop["now"] or not stdin_open):
        readable, _, _ = select.select([wake_r, 0] + ([fd0_r] if fd0_open else []), [], [], 1.0)
        if wake_r in readable:
            os.read(wake_r, 4096)
        if fd0_r in readable:
            data = os.read(fd0_r, 65536)
            if data:
                os.write(2, data)
            else:
                fd0_open = False
        if 0 in readable and not os.read(0, 4096):
            stdin_open = False
        try:
            pid, _ = os.waitpid(server, os.WNOHANG)
            server_done = pid == server
        except ChildProcessError:
            server_done = True
        reap()
    me = os.getpid()
    for sig, seconds in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 3.0)):
        targets = descendants(me)
        if not targets:
            break
        for pid in targets:
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and descendants(me):
            reap()
            time.sleep(0.02)
    reap()


if __name__ == "__main__":
    main()
