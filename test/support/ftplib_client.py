"""Python ftplib FTPS client for Ferry's interop tests (run with /usr/bin/python3).

Input: one JSON object on stdin (or argv[1]):
  {"host", "port", "user", "password", "implicit": bool, "reuseSession": bool, "tlsMax": "1.2"|"1.3"|null,
   "strictEof": bool, "dataSession": "control"|"newest-once",
   "continueOnError": bool, "timeout": seconds, "certFile"?: str, "keyFile"?: str,
   "actions": [{"op": ...}, ...]}
certFile/keyFile: a client certificate (PEM) presented on the TLS handshakes (mutual TLS).
strictEof clears ssl.OP_IGNORE_UNEXPECTED_EOF (as python.org and pyenv builds have it): a TLS
connection closed without close_notify is then an error. dataSession "newest-once" makes data
connections behave like OpenSSL's client session cache (curl): each TLS session is offered once,
the newest unused one first (issued on the control connection or on an earlier data connection).
Output: one JSON object on stdout: {"ok": bool, "welcome": str, "error"?: str, "results": [...]}.
Exit status 0 when every action succeeded, 1 otherwise, 2 for bad input.

ftplib's FTP_TLS is explicit only and does not resume the control TLS session on data connections
(servers such as vsftpd and ProFTPD require that). The classes below fix both: data connections pass
`session=self.sock.session`, and ImplicitFTPS wraps the socket in TLS at connect time.
"""

import ftplib
import hashlib
import json
import re
import socket
import ssl
import sys


class TrackingSSLSocket(ssl.SSLSocket):
    """An SSLSocket that reports its latest TLS session just before it is closed or unwrapped."""

    on_session = None

    def _report(self):
        if self.on_session is not None and self._sslobj is not None and self.session is not None:
            self.on_session(self.session)

    def unwrap(self):
        if self._sslobj:
            s = self._sslobj.shutdown()  # reads up to the peer's close_notify (and tickets before it)
            self._report()
            self._sslobj = None
            return s
        return super().unwrap()

    def close(self):
        self._report()
        super().close()


class ReusingFTPS(ftplib.FTP_TLS):
    """FTP_TLS whose data connections resume the control connection's TLS session."""

    reuse_session = True
    newest_once = False
    last_data_session_reused = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.used_sessions = set()
        self.data_sessions = []

    def offered_session(self):
        control = self.sock.session if isinstance(self.sock, ssl.SSLSocket) else None
        if not self.newest_once:
            return control
        for s in reversed([control] + self.data_sessions):
            if s is not None and s.id not in self.used_sessions:
                self.used_sessions.add(s.id)
                return s
        return None

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        self.last_data_session_reused = None
        if self._prot_p:
            session = self.offered_session() if self.reuse_session else None
            try:
                conn = self.context.wrap_socket(conn, server_hostname=self.host, session=session)
            except BaseException:
                conn.close()
                raise
            self.last_data_session_reused = bool(conn.session_reused)
        return conn, size


class ImplicitFTPS(ReusingFTPS):
    """Implicit FTPS: TLS from the first byte, so no AUTH command (login() skips it for an SSLSocket)."""

    def connect(self, host="", port=0, timeout=-999, source_address=None):
        if host != "":
            self.host = host
        if port > 0:
            self.port = port
        if timeout != -999:
            self.timeout = timeout
        if source_address is not None:
            self.source_address = source_address
        raw = socket.create_connection((self.host, self.port), self.timeout, source_address=self.source_address)
        self.af = raw.family
        self.sock = self.context.wrap_socket(raw, server_hostname=self.host)
        self.file = self.sock.makefile("r", encoding=self.encoding)
        self.welcome = self.getresp()
        return self.welcome


def make_context(tls_max, strict_eof=False):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.sslsocket_class = TrackingSSLSocket
    if strict_eof:
        ctx.options &= ~ssl.OP_IGNORE_UNEXPECTED_EOF
    if tls_max == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    elif tls_max == "1.3":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    return ctx


def reply_code(text):
    m = re.match(r"^(\d{3})", str(text).strip())
    return m.group(1) if m else None


class Hasher:
    def __init__(self, sink=None):
        self.sha = hashlib.sha256()
        self.bytes = 0
        self.sink = sink

    def __call__(self, data):
        self.sha.update(data)
        self.bytes += len(data)
        if self.sink is not None:
            self.sink.write(data)


class HashingReader:
    """File wrapper hashing what storbinary() reads."""

    def __init__(self, f):
        self.f = f
        self.h = Hasher()

    def read(self, n=-1):
        data = self.f.read(n)
        self.h(data)
        return data

    def seek(self, *args):
        return self.f.seek(*args)


def upload_without_reading(ftp, a):
    """STOR as lftp (GnuTLS) does it: TLS over the data connection begins after the 150 and the
    connection is never read after the handshake; after the last byte, close_notify and close at
    once. Bytes the server sent meanwhile (TLS 1.3 session tickets) stay unread in the kernel, so
    closing resets the connection and drops what had not been sent yet. A memory BIO keeps
    OpenSSL from reading the socket (SSL_shutdown would)."""
    ftp.voidcmd("TYPE I")
    conn, _ = ftplib.FTP.ntransfercmd(ftp, "STOR " + a["remote"])
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ftp.context.wrap_bio(incoming, outgoing, server_hostname=ftp.host, session=ftp.offered_session())

    def flush():
        data = outgoing.read()
        if data:
            conn.sendall(data)

    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            flush()
            chunk = conn.recv(65536)  # the server's flight; its tickets come only after our Finished
            if not chunk:
                raise ConnectionError("data connection closed during the TLS handshake")
            incoming.write(chunk)
    flush()
    h = Hasher()
    with open(a["local"], "rb") as f:
        while True:
            data = f.read(1 << 16)
            if not data:
                break
            h(data)
            tls.write(data)
            flush()
    try:
        tls.unwrap()
    except ssl.SSLWantReadError:
        pass  # close_notify is out; the peer's would need a read
    flush()
    conn.close()
    reply = ftp.voidresp()
    return {"reply": reply, "bytes": h.bytes, "sha256": h.sha.hexdigest(), "sessionReused": tls.session_reused}


def run_action(ftp, spec, a):
    op = a["op"]
    if op == "login":
        if a.get("anonymous"):
            reply = ftp.login()  # ftplib's own anonymous login: USER anonymous, PASS anonymous@
        else:
            reply = ftp.login(a.get("user", spec["user"]), a.get("password", spec["password"]))
        if a.get("protectData", True):
            ftp.prot_p()
        return {"reply": reply}
    if op == "pwd":
        path = ftp.pwd()
        return {"lines": [path], "reply": ftp.lastresp}
    if op == "cwd":
        return {"reply": ftp.cwd(a["path"])}
    if op == "list":
        lines = []
        args = ["LIST"] + ([a["path"]] if a.get("path") else [])
        reply = ftp.retrlines(" ".join(args), lines.append)
        return {"reply": reply, "lines": lines, "sessionReused": ftp.last_data_session_reused}
    if op == "nlst":
        names = ftp.nlst(*([a["path"]] if a.get("path") else []))
        return {"lines": names, "reply": ftp.lastresp, "sessionReused": ftp.last_data_session_reused}
    if op == "mlsd":
        entries = [[name, facts] for name, facts in ftp.mlsd(a.get("path", ""))]
        return {"entries": entries, "sessionReused": ftp.last_data_session_reused}
    if op == "upload" and a.get("closeWithoutReading"):
        return upload_without_reading(ftp, a)
    if op in ("upload", "append"):
        offset = int(a.get("offset", 0) or 0)
        with open(a["local"], "rb") as f:
            reader = HashingReader(f)
            if op == "append":
                reply = ftp.storbinary("APPE " + a["remote"], reader)
            else:
                reply = ftp.storbinary("STOR " + a["remote"], reader, rest=offset if offset else None)
        return {
            "reply": reply,
            "bytes": reader.h.bytes,
            "sha256": reader.h.sha.hexdigest(),
            "sessionReused": ftp.last_data_session_reused,
        }
    if op == "download":
        offset = int(a.get("offset", 0) or 0)
        with open(a["local"], "wb") as f:
            h = Hasher(f)
            reply = ftp.retrbinary("RETR " + a["remote"], h, rest=offset if offset else None)
        return {
            "reply": reply,
            "bytes": h.bytes,
            "sha256": h.sha.hexdigest(),
            "sessionReused": ftp.last_data_session_reused,
        }
    if op == "rename":
        return {"reply": ftp.rename(a["from"], a["to"])}
    if op == "delete":
        return {"reply": ftp.delete(a["path"])}
    if op == "mkd":
        path = ftp.mkd(a["path"])
        return {"reply": ftp.lastresp, "lines": [path]}
    if op == "rmd":
        return {"reply": ftp.rmd(a["path"])}
    if op == "size":
        ftp.voidcmd("TYPE I")
        size = ftp.size(a["path"])
        return {"size": size, "reply": ftp.lastresp}
    if op == "passive":
        ftp.set_pasv(bool(a["enabled"]))
        return {}
    if op == "prot":
        reply = ftp.prot_p() if a["level"] == "P" else ftp.prot_c()
        return {"reply": reply}
    if op == "raw":
        ftp.putcmd(a["command"])
        reply = ftp.getmultiline()
        code = reply_code(reply)
        ok = code is not None and code[0] in "123"
        return {"reply": reply, "code": code, "ok": ok}
    if op == "ccc":
        return {"reply": ftp.ccc()}  # the control connection goes back to clear text
    if op == "quit":
        return {"reply": ftp.quit()}
    raise ValueError("unknown op " + repr(op))


def main():
    try:
        raw = sys.argv[1] if len(sys.argv) > 1 else sys.stdin.read()
        spec = json.loads(raw)
        actions = spec["actions"]
    except Exception as e:  # noqa: BLE001
        print(json.dumps({"ok": False, "error": "bad input: " + repr(e), "results": []}))
        sys.exit(2)

    cls = ImplicitFTPS if spec.get("implicit") else ReusingFTPS
    ctx = make_context(spec.get("tlsMax"), bool(spec.get("strictEof", False)))
    if spec.get("certFile"):
        ctx.load_cert_chain(spec["certFile"], spec.get("keyFile"))
    ftp = cls(context=ctx, timeout=float(spec.get("timeout", 30)))
    ftp.reuse_session = bool(spec.get("reuseSession", True))
    ftp.newest_once = spec.get("dataSession", "control") == "newest-once"
    TrackingSSLSocket.on_session = ftp.data_sessions.append
    out = {"ok": True, "results": []}
    try:
        out["welcome"] = ftp.connect(spec["host"], int(spec["port"]))
    except Exception as e:  # noqa: BLE001
        out["ok"] = False
        out["error"] = "connect: " + type(e).__name__ + ": " + str(e)
        print(json.dumps(out))
        sys.exit(1)

    for a in actions:
        try:
            res = run_action(ftp, spec, a)
            ok = res.pop("ok", True)
            if "reply" in res and res["reply"] is not None and "code" not in res:
                res["code"] = reply_code(res["reply"])
            out["results"].append({"op": a["op"], "ok": ok, **res})
        except Exception as e:  # noqa: BLE001
            ok = False
            out["results"].append(
                {"op": a.get("op"), "ok": False, "error": type(e).__name__ + ": " + str(e), "code": reply_code(e)}
            )
        if not ok:
            out["ok"] = False
            if not spec.get("continueOnError"):
                break
    try:
        ftp.close()
    except Exception:  # noqa: BLE001
        pass
    print(json.dumps(out))
    sys.exit(0 if out["ok"] else 1)


if __name__ == "__main__":
    main()
