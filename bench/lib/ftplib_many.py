"""Many RETRs on one explicit-FTPS session with Python's ftplib (run with /usr/bin/python3).

Usage: ftplib_many.py '{"host","port","user","password","dir","names":[...],"size":N,"tlsMax":"1.2"|null}'
Prints one JSON object: {"files", "bytes", "reused", "loopSeconds", "loginSeconds"}; exit 1 on error.

ftplib's FTP_TLS does not resume the control connection's TLS session on data connections, which
servers requiring session reuse (vsftpd's require_ssl_reuse, Ferry's requireSessionReuse) refuse;
ReusingFTPS passes the control session when wrapping each data socket (as
test/support/ftplib_client.py does). Data TLS starts after the 150 reply, as ftplib always does.
"""

import ftplib
import json
import ssl
import sys
import time


class ReusingFTPS(ftplib.FTP_TLS):
    reused = 0

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        try:
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=self.sock.session)
        except BaseException:
            conn.close()
            raise
        if conn.session_reused:
            self.reused += 1
        return conn, size


def main():
    cfg = json.loads(sys.argv[1])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if cfg.get("tlsMax") == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    t0 = time.perf_counter()
    ftp = ReusingFTPS(context=ctx, timeout=30)
    ftp.connect(cfg["host"], cfg["port"])
    ftp.login(cfg["user"], cfg["password"])  # AUTH TLS first
    ftp.prot_p()
    ftp.voidcmd("TYPE I")
    ftp.cwd(cfg["dir"])
    t1 = time.perf_counter()
    total = 0
    for name in cfg["names"]:
        got = [0]

        def count(block, got=got):
            got[0] += len(block)

        ftp.retrbinary("RETR " + name, count, blocksize=65536)
        if got[0] != cfg["size"]:
            raise RuntimeError(f"RETR {name}: {got[0]} bytes, expected {cfg['size']}")
        total += got[0]
    t2 = time.perf_counter()
    version = ftp.sock.version()
    ftp.quit()
    print(json.dumps({"files": len(cfg["names"]), "bytes": total, "reused": ftp.reused, "tls": version,
                      "loopSeconds": t2 - t1, "loginSeconds": t1 - t0}))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # one line for the benchmark's report
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
