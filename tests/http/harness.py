"""harness.py - black-box HTTP test helpers for `junco serve` (stdlib only).

A test script creates a data home (import of the bundled MovieLens data),
starts the daemon on 127.0.0.1 with port 0, reads the bound URL from its
stdout ("listening on http://127.0.0.1:PORT"), talks to it with http.client
and reports TAP lines ("ok N - what" / "not ok N - what") that
scripts/run-tests counts. Servers are stopped by their pid (SIGTERM, then
SIGKILL after a timeout); the exit status is checked by the caller.

Environment (set by ctest): JUNCO (binary), JC_SRC (source tree),
JC_TEST_TMP (scratch root).
"""
import atexit
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

JUNCO = os.environ.get("JUNCO", "")
SRC = os.environ.get("JC_SRC", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
TMP_ROOT = os.environ.get("JC_TEST_TMP", "/tmp")
ML = os.path.join(SRC, "data", "ml-latest-small")


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def check(self, what, cond, detail=None):
        self.n += 1
        if cond:
            print("ok %d - %s" % (self.n, what), flush=True)
        else:
            self.failed += 1
            print("not ok %d - %s" % (self.n, what), flush=True)
            if detail is not None:
                for line in str(detail)[:2000].splitlines():
                    print("#   " + line, flush=True)
        return cond

    def finish(self):
        print("1..%d" % self.n, flush=True)
        sys.exit(1 if self.failed else 0)


def scratch(name):
    d = os.path.join(TMP_ROOT, "http-%s-%d" % (name, os.getpid()))
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def run(*args, **kw):
    return subprocess.run([JUNCO] + list(args), capture_output=True, text=True, timeout=300, **kw)


def make_home(tmp):
    home = os.path.join(tmp, "home")
    r = run("--home", home, "import", ML)
    if r.returncode != 0:
        raise RuntimeError("import failed: " + r.stderr)
    return home


_servers = []


@atexit.register
def _kill_leftovers():
    """A test that dies half-way must not leave a daemon running."""
    for srv in _servers:
        srv.kill()


class Server:
    """A `junco serve` child process on an ephemeral port."""

    def __init__(self, home, *extra, env=None):
        self.log_out = open(os.path.join(home, "serve.stdout"), "w+")
        self.log_err = open(os.path.join(home, "serve.stderr"), "w+")
        args = [JUNCO, "--home", home, "serve", "--port", "0"] + list(extra)
        e = dict(os.environ)
        if env:
            e.update(env)
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log_err,
                                     text=True, env=e)
        _servers.append(self)
        self.port = None
        deadline = time.time() + 30
        line = ""
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            if line.startswith("listening on http://"):
                self.port = int(line.strip().rsplit(":", 1)[1])
                break
        if self.port is None:
            self.kill()
            self.log_err.seek(0)
            raise RuntimeError("server did not start: " + line + self.log_err.read())
        self.host = "127.0.0.1"

    def conn(self, timeout=30):
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, conn=None):
        """Returns (status, headers dict lower-cased, body bytes)."""
        c = conn or self.conn()
        h = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        hd = {k.lower(): v for k, v in r.getheaders()}
        if conn is None:
            c.close()
        return r.status, hd, data

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def json(self, path, **kw):
        st, hd, data = self.request("GET", path, **kw)
        try:
            return st, hd, json.loads(data)
        except ValueError:
            return st, hd, None

    def raw(self, data, read_timeout=5):
        """Sends raw bytes on a fresh socket and returns the whole reply."""
        s = socket.create_connection((self.host, self.port), timeout=read_timeout)
        s.sendall(data)
        out = b""
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                out += b
        except socket.timeout:
            pass
        s.close()
        return out

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=30):
        """SIGTERM and wait; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return -9

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stderr_text(self):
        self.log_err.flush()
        self.log_err.seek(0)
        return self.log_err.read()


def is_error_json(data, code=None):
    try:
        d = json.loads(data)
    except ValueError:
        return False
    e = d.get("error") if isinstance(d, dict) else None
    if not isinstance(e, dict) or not isinstance(e.get("message"), str):
        return False
    return code is None or e.get("code") == code
