#!/usr/bin/python3
"""Runs a command and writes its wall time and resource usage (wait4) as JSON to a file.

usage: rusage.py DEADLINE_SECONDS OUT_JSON -- PROGRAM [ARGS...]

The command inherits stdin/stdout/stderr. After DEADLINE_SECONDS it gets SIGTERM, 5 s later SIGKILL
(by PID); the JSON says so ("stopped"). The command is SIGKILLed if this wrapper dies
(PR_SET_PDEATHSIG). user/sys come from wait4, so they cover every thread of the command (and any
children it waited for); wall time runs from just before the fork to the reap.
"""
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time


def main():
    if len(sys.argv) < 5 or sys.argv[3] != "--":
        sys.stderr.write(__doc__)
        return 2
    deadline = float(sys.argv[1])
    out_file = sys.argv[2]
    argv = sys.argv[4:]
    libc = ctypes.CDLL("libc.so.6", use_errno=True)

    def die_with_parent():
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG

    stopped = []
    t0 = time.monotonic()
    child = subprocess.Popen(argv, preexec_fn=die_with_parent)

    def stop(sig):
        stopped.append(signal.Signals(sig).name)
        try:
            os.kill(child.pid, sig)
        except ProcessLookupError:
            pass

    term = threading.Timer(deadline, stop, (signal.SIGTERM,))
    kill = threading.Timer(deadline + 5, stop, (signal.SIGKILL,))
    term.daemon = kill.daemon = True
    term.start()
    kill.start()
    _, status, ru = os.wait4(child.pid, 0)
    elapsed = time.monotonic() - t0
    term.cancel()
    kill.cancel()
    code = os.waitstatus_to_exitcode(status)
    with open(out_file, "w") as f:
        json.dump(
            {
                "elapsed": elapsed,
                "user": ru.ru_utime,
                "sys": ru.ru_stime,
                "maxrssKiB": ru.ru_maxrss,
                "code": code if code >= 0 else None,
                "signal": signal.Signals(-code).name if code < 0 else None,
                "stopped": stopped[0] if stopped else None,
            },
            f,
        )
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
