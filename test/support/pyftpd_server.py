"""pyftpdlib FTPS server (explicit only: pyftpdlib has no implicit mode) for Ferry's interop tests.

Run with Debian's /usr/bin/python3 (python3-pyftpdlib, python3-openssl). The argument is one JSON
object on argv[1], or `@FILE` naming a file that holds it (keeps the password out of the process list):
  {"user": str, "password": str, "root": str, "certfile": str, "keyfile": str,
   "host": "127.0.0.1", "port": 0, "tlsMax": "1.2" | "1.3", "refuseProt": bool, "noMlst": bool,
   "refuseListOptions": bool}
refuseProt: PROT is answered 534 whatever its level (a server refusing protected data connections).
noMlst: no MLSD/MLST (not in FEAT, 500), so clients list with LIST.
refuseListOptions: LIST/NLST take a leading `-a` for a path and answer 550 (as IIS does).
It binds (port 0 = the kernel picks one), then prints one line `READY <port>` on stdout and serves
until SIGTERM/SIGINT. Logs go to stderr.
"""

import json
import logging
import signal
import sys

from OpenSSL import SSL
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import TLS_FTPHandler
from pyftpdlib.servers import FTPServer


def main() -> None:
    arg = sys.argv[1]
    if arg.startswith("@"):
        with open(arg[1:], encoding="utf-8") as f:
            arg = f.read()
    opts = json.loads(arg)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="pyftpdlib %(levelname)s %(message)s")

    authorizer = DummyAuthorizer()
    # all permissions: list/read/write/append/delete/rename/mkdir/chmod/mtime
    authorizer.add_user(opts["user"], opts["password"], opts["root"], perm="elradfmwMT")

    attrs = {}
    if opts.get("refuseProt"):
        attrs["ftp_PROT"] = lambda self, line: self.respond("534 PROT refused by this test server.")
    if opts.get("noMlst"):
        cmds = TLS_FTPHandler.proto_cmds
        attrs["proto_cmds"] = {k: v for k, v in cmds.items() if k not in ("MLSD", "MLST")}
    if opts.get("refuseListOptions"):

        def pre_process_command(self, line: str, cmd: str, arg: str) -> None:
            if cmd in ("LIST", "NLST") and arg.startswith("-"):
                self.respond(f"550 {arg}: No such file or directory.")
                return
            TLS_FTPHandler.pre_process_command(self, line, cmd, arg)

        attrs["pre_process_command"] = pre_process_command
    handler = type("FerryTLSHandler", (TLS_FTPHandler,), attrs)
    handler.authorizer = authorizer
    handler.certfile = opts["certfile"]
    handler.keyfile = opts["keyfile"]
    handler.tls_control_required = True
    handler.tls_data_required = True
    handler.banner = "pyftpdlib ready (Ferry interop)"
    handler.permit_foreign_addresses = False
    ctx = handler.get_ssl_context()  # pyftpdlib's own context (certificate, key, options)
    if opts.get("tlsMax") == "1.2":
        ctx.set_max_proto_version(SSL.TLS1_2_VERSION)

    server = FTPServer((opts.get("host", "127.0.0.1"), int(opts.get("port", 0))), handler)
    server.max_cons = 64

    def stop(_signum: int, _frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    port = server.socket.getsockname()[1]
    print(f"READY {port}", flush=True)
    try:
        server.serve_forever(handle_exit=False)
    finally:
        server.close_all()


if __name__ == "__main__":
    main()
