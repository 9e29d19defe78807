"""Supervises one peer server for test/support/peers.ts (run with /usr/bin/python3).

Usage: peer_supervisor.py CLEANUP_DIR COMMAND [ARGS...]

- Becomes a child subreaper (prctl), so the server's orphaned session processes (Pure-FTPd
  double-forks them) are reparented to it and reaped here, not left as zombies under a PID 1 that
  does not reap (containers).
- Runs COMMAND as its child (fd 0: a pipe forwarded to stderr) and prints `[supervisor] server pid N` on stderr.
- Stays until the server exits, stdin reaches EOF (the test process called stop() or died, even by
  SIGKILL) or it gets SIGTERM/SIGINT/SIGHUP. Then it terminates every process of its process group
  and every child it adopted (SIGTERM, SIGKILL after 5 s), reaps them, and on EOF or a signal also
  removes CLEANUP_DIR (if not empty). It exits with the server's status (128+N for signal N).
"""

import ctypes
import os
import select
import shutil
import signal
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def others(me, pgrp):
    """Live processes in our group or adopted by us (excluding us)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        if pid == me:
            continue
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read().decode("latin-1")
        except OSError:
            continue
        rest = stat[stat.rfind(")") + 2 :].split()
        state, ppid, group = rest[0], int(rest[1]), int(rest[2])
        if state != "Z" and (group == pgrp or ppid == me):
            found.append(pid)
    return found


def reap(server_pid, status):
    """Reaps every exited child; returns the server's wait status once known."""
    while True:
        try:
            pid, st = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return status
        if pid == 0:
            return status
        if pid == server_pid:
            status = st


def main():
    if len(sys.argv) < 3:
        sys.stderr.write("usage: peer_supervisor.py CLEANUP_DIR COMMAND [ARGS...]\n")
        sys.exit(2)
    cleanup_dir, cmd = sys.argv[1], sys.argv[2:]

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.stderr.write(f"[supervisor] prctl(PR_SET_CHILD_SUBREAPER) failed: errno {ctypes.get_errno()}\n")

    stop = {"requested": False}

    def on_signal(_signum, _frame):
        stop["requested"] = True

    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)
    signal.signal(signal.SIGCHLD, lambda *_: None)

    # The server's fd 0 is the write end of a pipe whose bytes go to our stderr: vsftpd writes its
    # startup "500 OOPS" errors to fd 0 (its control fd). Not a socket: Pure-FTPd takes a socket on
    # fd 0 for an inetd connection.
    fd0_r, fd0_w = os.pipe()
    server = os.fork()
    if server == 0:
        try:
            signal.set_wakeup_fd(-1)
            for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD):
                signal.signal(s, signal.SIG_DFL)
            os.dup2(fd0_w, 0)
            for fd in (wake_r, wake_w, fd0_r, fd0_w):
                os.close(fd)
            os.execv(cmd[0], cmd)
        except OSError as e:
            os.write(2, f"[supervisor] cannot run {cmd[0]}: {e}\n".encode())
        os._exit(127)

    os.close(fd0_w)
    sys.stderr.write(f"[supervisor] server pid {server}\n")
    sys.stderr.flush()

    def forward_fd0():
        nonlocal fd0_open
        while fd0_open and select.select([fd0_r], [], [], 0)[0]:
            data = os.read(fd0_r, 65536)
            if data:
                os.write(2, data)
            else:
                fd0_open = False

    status = None
    stdin_open = True
    fd0_open = True
    while True:
        status = reap(server, status)
        if status is not None or stop["requested"] or not stdin_open:
            break
        fds = [wake_r] + ([0] if stdin_open else []) + ([fd0_r] if fd0_open else [])
        readable, _, _ = select.select(fds, [], [], 1.0)
        if wake_r in readable:
            os.read(wake_r, 4096)
        if fd0_r in readable:
            forward_fd0()
        if 0 in readable and not os.read(0, 4096):
            stdin_open = False
    forward_fd0()

    me, pgrp = os.getpid(), os.getpgrp()
    for sig, seconds in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 3.0)):
        targets = others(me, pgrp)
        if not targets:
            break
        for pid in targets:
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            status = reap(server, status)
            if not others(me, pgrp):
                break
            time.sleep(0.02)
    status = reap(server, status)

    if cleanup_dir and (stop["requested"] or not stdin_open):
        shutil.rmtree(cleanup_dir, ignore_errors=True)

    if status is None:
        sys.exit(0)
    code = os.waitstatus_to_exitcode(status)
    sys.exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main()
