#!/usr/bin/env python3
"""test_lifecycle.py - the daemon's life: graceful shutdown drains requests in
flight, /readyz during draining, SIGHUP and admin reloads (snapshot
versions), API-key protection of admin routes (loopback and not), the web
root refusing symlinks out of it, and start-up failures (missing catalog,
port in use, bad bind address).
"""
import json
import os
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SRC, Server, Tap, is_error_json, make_home, run, scratch  # noqa: E402

t = Tap()
tmp = scratch("life")
home = make_home(tmp)

# ---- graceful shutdown drains an in-flight request -----------------------------
srv = Server(home, "--set", "serve.debug=true", "--set", "serve.drain_timeout=10")
keep = srv.conn()
st, hd, d = srv.request("GET", "/readyz", conn=keep)
t.check("ready before the stop", st == 200 and json.loads(d)["ready"] is True, d)
result = {}


def slow():
    try:
        result["r"] = srv.get("/debug/sleep?ms=1500")
    except Exception as e:  # noqa: BLE001
        result["e"] = repr(e)


th = threading.Thread(target=slow)
th.start()
time.sleep(0.4)
t0 = time.time()
srv.signal(signal.SIGTERM)
time.sleep(0.3)
st, hd, d = srv.request("GET", "/readyz", conn=keep)
t.check("/readyz is 503 while draining, with Connection: close",
        st == 503 and json.loads(d)["draining"] is True and hd.get("connection") == "close",
        (st, hd, d))
refused = False
try:
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=2)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    refused = s.recv(100) == b""
    s.close()
except OSError:
    refused = True
t.check("no new connections after SIGTERM", refused, None)
th.join(10)
rc = srv.stop()
elapsed = time.time() - t0
r = result.get("r")
t.check("the in-flight request completed with 200", r is not None and r[0] == 200 and
        json.loads(r[2])["slept_ms"] == 1500, result)
t.check("exit 0 after draining", rc == 0, (rc, srv.stderr_text()))
t.check("the stop waited for the request (>= 1 s)", elapsed >= 1.0, elapsed)

# ---- drain timeout: a request longer than the timeout makes exit 1 ----------------------
srv = Server(home, "--set", "serve.debug=true", "--set", "serve.drain_timeout=0.3")


def too_slow():
    try:
        srv.get("/debug/sleep?ms=3000")
    except Exception:  # noqa: BLE001 - the server closes it at the drain timeout
        pass


th = threading.Thread(target=too_slow)
th.daemon = True
th.start()
time.sleep(0.3)
rc = srv.stop()
t.check("drain timeout exceeded -> exit 1 and a message",
        rc == 1 and "still running at the drain timeout" in srv.stderr_text(),
        (rc, srv.stderr_text()))

# ---- reloads and the API key ------------------------------------------------------------------
srv = Server(home, "--set", "serve.api_key=s3cret", "--set", "serve.debug=true")
st, hd, d = srv.json("/readyz")
v0 = d["snapshot_version"]
srv.signal(signal.SIGHUP)
for _ in range(50):
    st, hd, d = srv.json("/readyz")
    if d["snapshot_version"] == v0 + 1:
        break
    time.sleep(0.1)
t.check("SIGHUP reloads: snapshot version +1", d["snapshot_version"] == v0 + 1, d)
st, hd, body = srv.request("POST", "/api/v1/admin/reload")
t.check("admin reload without the key -> 401", st == 401 and is_error_json(body, "unauthorized")
        and "www-authenticate" in hd, (st, body))
st, hd, body = srv.request("POST", "/api/v1/admin/reload", headers={"X-API-Key": "wrong"})
t.check("admin reload with a wrong key -> 403", st == 403 and is_error_json(body, "forbidden"),
        (st, body))
st, hd, body = srv.request("POST", "/api/v1/admin/reload",
                           headers={"Authorization": "Bearer s3cret"})
t.check("admin reload with the key -> 200, version +1",
        st == 200 and json.loads(body)["version"] == v0 + 2, (st, body))
st, hd, body = srv.get("/debug/sleep?ms=1")
t.check("debug routes are admin routes too", st == 401, st)
st, hd, body = srv.get("/getmovie?id=1")
t.check("read endpoints need no key", st == 200, st)
# a reload that fails keeps serving the previous snapshot
cat = os.path.join(home, "catalog", "catalog.jcat")
os.rename(cat, cat + ".bak")
st, hd, body = srv.request("POST", "/api/v1/admin/reload", headers={"X-API-Key": "s3cret"})
t.check("failed reload -> 500 reload_failed", st == 500 and is_error_json(body, "reload_failed"),
        (st, body))
st, hd, d = srv.json("/getmovie?id=11")
t.check("still serving the old snapshot", st == 200 and
        d["title"] == "American President, The (1995)", d)
os.rename(cat + ".bak", cat)
st, hd, body = srv.get("/metrics")
t.check("reload results counted in /metrics",
        'junco_snapshot_reloads_total{result="failed"} 1' in body.decode() and
        'junco_snapshot_reloads_total{result="ok"} 3' in body.decode(), body[-600:])
# reload under load: no request fails while snapshots swap
errors = []


def hammer():
    c = srv.conn()
    for _ in range(300):
        try:
            st, hd, body = srv.request("GET", "/api/v1/users/1/recommendations?n=5", conn=c)
            if st != 200:
                errors.append(st)
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))
            c = srv.conn()
    c.close()


ths = [threading.Thread(target=hammer) for _ in range(3)]
for x in ths:
    x.start()
for _ in range(10):
    srv.request("POST", "/api/v1/admin/reload", headers={"X-API-Key": "s3cret"})
for x in ths:
    x.join(60)
t.check("10 reloads during 900 requests: zero failures", not errors, errors[:5])
t.check("stop -> exit 0", srv.stop() == 0, srv.stderr_text())

# ---- non-loopback without a key: admin disabled ----------------------------------------------
srv = Server(home, "--bind", "0.0.0.0")
st, hd, body = srv.request("POST", "/api/v1/admin/reload")
t.check("non-loopback bind without serve.api_key: admin -> 403",
        st == 403 and is_error_json(body, "forbidden") and b"api_key" in body, (st, body))
st, hd, body = srv.get("/getmovie?id=1")
t.check("non-loopback bind: reads work", st == 200, st)
srv.stop()

# ---- web root: symlinks out of the root are refused ------------------------------------------
web = os.path.join(tmp, "web")
os.makedirs(web)
for f in ("index.html", "app.js", "style.css"):
    with open(os.path.join(SRC, "web", f), "rb") as a, open(os.path.join(web, f), "wb") as b:
        b.write(a.read())
secret = os.path.join(tmp, "secret.txt")
with open(secret, "w") as f:
    f.write("top secret")
os.symlink(secret, os.path.join(web, "leak.txt"))
os.symlink("/etc", os.path.join(web, "etc"))
srv = Server(home, "--web-root", web)
st, hd, body = srv.get("/leak.txt")
t.check("symlink to a file outside the web root -> 403", st == 403 and b"top secret" not in body
        and is_error_json(body), (st, body))
st, hd, body = srv.get("/etc/passwd")
t.check("symlinked directory outside the root -> 403", st == 403 and b"root:" not in body,
        (st, body[:80]))
st, hd, body = srv.get("/index.html")
t.check("regular files are served", st == 200 and b"<!doctype html>" in body, st)
srv.stop()
srv = Server(home, "--no-ui")
st, hd, body = srv.get("/")
t.check("--no-ui: / is a JSON 404", st == 404 and is_error_json(body), (st, body))
srv.stop()

# ---- start-up failures ------------------------------------------------------------------------
r = run("--home", os.path.join(tmp, "empty"), "serve", "--port", "0")
t.check("missing catalog -> exit 1 with a hint", r.returncode == 1 and
        "junco import" in r.stderr, (r.returncode, r.stderr))
blocker = socket.socket()
blocker.bind(("127.0.0.1", 0))
blocker.listen(1)
port = blocker.getsockname()[1]
r = run("--home", home, "serve", "--port", str(port))
blocker.close()
t.check("port in use -> exit 1 naming the address", r.returncode == 1 and
        ("127.0.0.1:%d" % port) in r.stderr, (r.returncode, r.stderr))
r = run("--home", home, "serve", "--bind", "not-an-ip", "--port", "0")
t.check("bad bind address -> exit 1", r.returncode == 1 and "not-an-ip" in r.stderr, r.stderr)
r = run("--home", home, "serve", "--port", "70000")
t.check("bad port -> usage error 2", r.returncode == 2, (r.returncode, r.stderr))
r = run("--home", home, "--set", "serve.mode=fork", "serve", "--port", "0")
t.check("bad serve.mode -> usage error 2", r.returncode == 2, (r.returncode, r.stderr))
with open(os.path.join(home, "junco.ini"), "w") as f:
    f.write("[scene.home]\nrecall = popular:10,telepathy:5\n")
r = run("--home", home, "serve", "--port", "0")
os.remove(os.path.join(home, "junco.ini"))
t.check("bad scene config -> exit 1 naming the section and channel", r.returncode == 1 and
        "[scene.home] recall" in r.stderr and "telepathy" in r.stderr, r.stderr)
r = run("serve", "--help")
t.check("serve --help", r.returncode == 0 and "--port" in r.stdout and "--threads" in r.stdout,
        r.stdout)
t.finish()
