#!/usr/bin/env python3
"""bench.py - HTTP serving benchmark: junco serve vs a Python stdlib peer.

  /usr/bin/python3 bench/serve/bench.py [--build build] [--reps 5] [--seconds 8]
                                        [--soak 60] [--modes epoll,poll,thread]
                                        [--pipeline phase1|full] [--endpoints a,b]

Imports data/ml-latest-small into a scratch home, then for each
libmicrohttpd mode starts `junco serve --threads 2` and runs wrk (2 threads)
against GET /getmovie?id=<rotating movie ids> (32 connections) and
GET /api/v1/users/<rotating user ids>/recommendations?n=10 (8 connections):
one warm-up, then --reps measured runs; the same wrk commands run against
bench/serve/peer.py (http.server). Finally a --soak second run of both
endpoints at once against the epoll server, sampling its RSS every 5 s.
wrk and the servers share this machine's cores, so quote ratios.
Appends one JSON line per measurement to bench/results/serve.jsonl and
prints a table of medians and the junco/peer throughput ratios.
"""
import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
ML = os.path.join(SRC, "data", "ml-latest-small")
LUA = os.path.join(HERE, "report.lua")
RESULTS = os.path.join(SRC, "bench", "results", "serve.jsonl")

ap = argparse.ArgumentParser()
ap.add_argument("--build", default=os.path.join(SRC, "build"))
ap.add_argument("--reps", type=int, default=5)
ap.add_argument("--seconds", type=int, default=8)
ap.add_argument("--soak", type=int, default=60)
ap.add_argument("--modes", default="epoll,poll,thread")
ap.add_argument("--no-peer", action="store_true")
ap.add_argument("--pipeline", default="phase1", choices=["phase1", "full"],
                help="full: also train DeepFM (1 epoch), item2vec + iALS embeddings and their "
                     "HNSW indexes, so recommendations run embedding recall + model ranking; "
                     "adds the endpoint recommendations_recall (?model=recall)")
ap.add_argument("--endpoints", default="", help="comma list of endpoint names to run (all)")
args = ap.parse_args()
junco = os.path.join(args.build, "junco")
tmp = tempfile.mkdtemp(prefix="junco-bench-serve-")
home = os.path.join(tmp, "home")
subprocess.run([junco, "--home", home, "-q", "import", ML], check=True)
if args.pipeline == "full":
    for step in (["features"], ["train", "--model", "deepfm", "--epochs", "1"],
                 ["embed", "--method", "item2vec", "--epochs", "5"], ["index", "build"],
                 ["embed", "--method", "ials"], ["index", "build", "--embedding", "ials"]):
        subprocess.run([junco, "--home", home, "-q"] + step, check=True,
                       stdout=subprocess.DEVNULL)

with open(os.path.join(tmp, "movies.txt"), "w") as f:
    for line in open(os.path.join(ML, "movies.csv"), encoding="utf-8").readlines()[1:]:
        f.write(line.split(",", 1)[0] + "\n")
with open(os.path.join(tmp, "users.txt"), "w") as f:
    for u in range(1, 611):
        f.write("%d\n" % u)

ENDPOINTS = [
    ("getmovie", "/getmovie?id={id}", "movies.txt", 32),
    ("recommendations", "/api/v1/users/{id}/recommendations?n=10", "users.txt", 8),
]
SOAK_PATHS = (ENDPOINTS[0][1], ENDPOINTS[1][1])  # the soak always runs both
if args.pipeline == "full":
    ENDPOINTS.append(("recommendations_recall",
                      "/api/v1/users/{id}/recommendations?n=10&model=recall", "users.txt", 8))
if args.endpoints:
    ENDPOINTS = [e for e in ENDPOINTS if e[0] in args.endpoints.split(",")]


def git_rev():
    try:
        return subprocess.run(["git", "-C", SRC, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def rss_kb(pid):
    try:
        for line in open("/proc/%d/status" % pid):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return -1


def start(cmd):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    if not line.startswith("listening on http://"):
        p.kill()
        raise RuntimeError("server did not start: %r" % line)
    return p, int(line.strip().rsplit(":", 1)[1])


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        return p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        return -9


def wrk(port, path, ids, conns, seconds):
    cmd = ["wrk", "-t2", "-c%d" % conns, "-d%ds" % seconds, "--timeout", "5s", "-s", LUA,
           "http://127.0.0.1:%d" % port, "--", path, os.path.join(tmp, ids)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
    last = [x for x in out.splitlines() if x.startswith("{")][-1]
    r = json.loads(last)
    r["errors"] = sum(r[k] for k in ("err_connect", "err_read", "err_write", "err_status",
                                     "err_timeout"))
    r["wrk_cmd"] = " ".join(cmd[:-4]) + " " + path
    return r


def record(row):
    row.update({"task": "serve", "dataset": "ml-latest-small", "pipeline": args.pipeline,
                "cpu": cpu_model(),
                "git": git_rev(), "time": int(time.time()), "server_threads": 2,
                "wrk_threads": 2, "blas_env": {k: os.environ.get(k) for k in
                                               ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}})
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, "a") as f:
        f.write(json.dumps(row) + "\n")


def measure(impl, mode, cmd):
    p, port = start(cmd)
    medians = {}
    for name, path, ids, conns in ENDPOINTS:
        wrk(port, path, ids, conns, 2)  # warm-up
        runs = []
        for rep in range(args.reps):
            r = wrk(port, path, ids, conns, args.seconds)
            r.update({"implementation": impl, "mode": mode, "endpoint": name,
                      "connections": conns, "seconds": args.seconds, "rep": rep,
                      "rss_kb": rss_kb(p.pid)})
            record(r)
            runs.append(r)
            print("  %-6s %-7s %-16s rep %d: %8.0f req/s p99 %7.2f ms errors %d" %
                  (impl, mode, name, rep, r["rps"], r["lat_p99_ms"], r["errors"]), flush=True)
        medians[name] = {
            "rps": statistics.median(x["rps"] for x in runs),
            "rps_min": min(x["rps"] for x in runs), "rps_max": max(x["rps"] for x in runs),
            "p50": statistics.median(x["lat_p50_ms"] for x in runs),
            "p99": statistics.median(x["lat_p99_ms"] for x in runs),
            "errors": sum(x["errors"] for x in runs)}
    rc = stop(p)
    return medians, rc


results = {}
for mode in args.modes.split(","):
    cmd = [junco, "--home", home, "-q", "serve", "--port", "0", "--threads", "2", "--mode", mode]
    print("junco serve --mode %s" % mode, flush=True)
    results[("junco", mode)], rc = measure("junco", mode, cmd)
    if rc != 0:
        print("  warning: junco exited with %d" % rc)
if not args.no_peer:
    print("python peer (http.server)", flush=True)
    results[("python", "threading")], _ = measure(
        "python", "threading", ["/usr/bin/python3", os.path.join(HERE, "peer.py"), ML])

soak = None
if args.soak > 0:
    print("soak: %d s of both endpoints at once (epoll)" % args.soak, flush=True)
    p, port = start([junco, "--home", home, "-q", "serve", "--port", "0", "--threads", "2"])
    w1 = subprocess.Popen(["wrk", "-t1", "-c16", "-d%ds" % args.soak, "-s", LUA,
                           "http://127.0.0.1:%d" % port, "--", SOAK_PATHS[0],
                           os.path.join(tmp, "movies.txt")], stdout=subprocess.PIPE, text=True)
    w2 = subprocess.Popen(["wrk", "-t1", "-c8", "-d%ds" % args.soak, "-s", LUA,
                           "http://127.0.0.1:%d" % port, "--", SOAK_PATHS[1],
                           os.path.join(tmp, "users.txt")], stdout=subprocess.PIPE, text=True)
    samples = []
    t0 = time.time()
    while w1.poll() is None or w2.poll() is None:
        samples.append((round(time.time() - t0, 1), rss_kb(p.pid)))
        time.sleep(5)
    outs = []
    for w in (w1, w2):
        last = [x for x in w.stdout.read().splitlines() if x.startswith("{")][-1]
        outs.append(json.loads(last))
    rc = stop(p)
    errs = sum(o[k] for o in outs for k in ("err_connect", "err_read", "err_write",
                                            "err_status", "err_timeout"))
    steady = [kb for t, kb in samples if t >= 10]
    soak = {"implementation": "junco", "mode": "epoll", "endpoint": "soak(getmovie+recs)",
            "seconds": args.soak, "requests": sum(o["requests"] for o in outs), "errors": errs,
            "rss_samples_kb": samples, "rss_first_kb": samples[0][1],
            "rss_after_10s_kb": steady[0] if steady else None, "rss_last_kb": samples[-1][1],
            "rss_growth_after_10s_kb": (steady[-1] - steady[0]) if steady else None,
            "exit": rc, "getmovie_rps": outs[0]["rps"], "recs_rps": outs[1]["rps"]}
    record(dict(soak))
    print("  %d requests, %d errors, RSS %s kB -> %s kB (growth after 10 s: %s kB), exit %d" %
          (soak["requests"], errs, soak["rss_first_kb"], soak["rss_last_kb"],
           soak["rss_growth_after_10s_kb"], rc))

print("\nmedians over %d runs of %d s (wrk -t2; 2 server threads; shared 2-core machine)" %
      (args.reps, args.seconds))
print("%-8s %-10s %-16s %10s %18s %9s %9s %7s" % ("impl", "mode", "endpoint", "req/s",
                                                   "min-max", "p50 ms", "p99 ms", "errors"))
for (impl, mode), med in results.items():
    for name, m in med.items():
        print("%-8s %-10s %-16s %10.0f %8.0f-%-9.0f %9.2f %9.2f %7d" % (
            impl, mode, name, m["rps"], m["rps_min"], m["rps_max"], m["p50"], m["p99"],
            m["errors"]))
peer = results.get(("python", "threading"))
if peer:
    for (impl, mode), med in results.items():
        if impl != "junco":
            continue
        for name, m in med.items():
            if name not in peer:
                continue
            ratio = m["rps"] / peer[name]["rps"] if peer[name]["rps"] else float("nan")
            print("ratio junco(%s)/python %-16s throughput x%.1f" % (mode, name, ratio))
            record({"implementation": "ratio", "mode": mode, "endpoint": name,
                    "junco_rps_median": m["rps"], "python_rps_median": peer[name]["rps"],
                    "speedup": ratio})
shutil.rmtree(tmp, ignore_errors=True)
