"""test_models.py - black-box tests of serving phase 2 (`junco serve` with
models, embeddings and indexes): multi-channel recall and DeepFM ranking in
the default scene, explain, similar items through the embedding ANN,
POST /api/v1/models/NAME:predict (and the TF-Serving form), ranker
fallbacks in /metrics, business rules from junco.ini, hot reload of new
model versions and embeddings under a request loop with zero failed
requests, the same list from `junco recommend` (the offline pipeline API)
as from the HTTP endpoint, and a home without models degrading to the
phase-1 pipeline with skipped channels counted.
"""
import json
import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Server, Tap, is_error_json, run, scratch  # noqa: E402

t = Tap()
tmp = scratch("models")
home = harness.make_home(tmp)
for args in (["features"], ["train", "--model", "deepfm", "--epochs", "1", "--threads", "1"],
             ["embed", "--method", "item2vec", "--epochs", "5"], ["index", "build"],
             ["embed", "--method", "ials", "--epochs", "3"]):
    r = run("--home", home, "-q", *args)
    if r.returncode != 0:
        raise RuntimeError("%s failed: %s" % (args, r.stderr))
with open(os.path.join(home, "junco.ini"), "w") as f:
    f.write("[scene.norom]\nrules = filter:genre=Romance, bury:genre=Drama:0.5\n"
            "[scene.recall]\nranker = recall\n"
            "[scene.trend]\nrecall = trending:50\nranker = recall\nrerank =\n")

env = {"JUNCO_SERVE_RELOAD_MS": "100", "JUNCO_SERVE_EVENTS": "off"}
srv = Server(home, "--no-ui", "--threads", "4", env=env)


def metric(text, name):
    m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
    return float(m.group(1)) if m else None


# ---- the default scene: 7 channels, DeepFM ranking ----------------------------------------
st, hd, d = srv.json("/api/v1/users/1/recommendations?n=20&explain=1")
t.check("recommendations 200", st == 200, d)
t.check("ranked by the live deepfm model",
        d["ranker"] == "model" and d["model"] == "deepfm" and d["model_version"] == 1 and
        not d["fallback"] and hd.get("x-junco-model") == "deepfm v1", (d.get("ranker"), hd))
chans = [c["channel"] for c in d["stages"]["recall"]]
t.check("default scene recall channels",
        chans == ["emb_user", "emb_item", "mf", "cooc", "genre_pref", "trending", "popular"],
        chans)
t.check("every channel produced candidates, none skipped",
        all(c["candidates"] > 0 and not c["skipped"] and not c["failed"]
            for c in d["stages"]["recall"]), d["stages"]["recall"])
t.check("explain shows channels and each stage's score",
        all(it["explain"]["channels"] and 0 < it["explain"]["rank"] < 1 and
            "recall" in it["explain"] and "rerank" in it["explain"] for it in d["items"]),
        d["items"][0])
st, _, hist = srv.json("/api/v1/users/1?limit=1000")
seen = {r["item"]["id"] for r in hist["history"]["items"]} if st == 200 else set()
got = [it["item"]["id"] for it in d["items"]]
t.check("no watched item recommended", len(seen) > 100 and not (seen & set(got)),
        len(seen))

# the offline pipeline API (junco recommend) gives the same list
r = run("--home", home, "-q", "recommend", "1", "--n", "20", "--json")
off = [it["id"] for it in json.loads(r.stdout)["items"]] if r.returncode == 0 else None
t.check("junco recommend == GET recommendations (same snapshot)", off == got, (off, got, r.stderr))

st, _, rd = srv.json("/api/v1/users/1/recommendations?n=20&model=recall")
t.check("model=recall ranks by the recall score",
        st == 200 and rd["ranker"] == "recall" and [i["item"]["id"] for i in rd["items"]] != got,
        rd.get("ranker"))
st, _, rd = srv.json("/api/v1/users/1/recommendations?n=5&model=din")
t.check("model=din (not loaded) falls back",
        st == 200 and rd["fallback"] and "not loaded" in rd["fallback_reason"], rd)
st, hd, arr = srv.json("/getrecforyou?id=1&size=5&model=deepfm")
t.check("/getrecforyou model=deepfm uses the model",
        st == 200 and len(arr) == 5 and hd.get("x-junco-ranker") == "model", hd)

# ---- rules from junco.ini -----------------------------------------------------------------
st, _, rd = srv.json("/api/v1/users/1/recommendations?n=50&scene=norom")
genres = [g for it in rd["items"] for g in it["item"]["genres"]]
t.check("scene rules: filter:genre=Romance", st == 200 and len(rd["items"]) == 50 and
        "Romance" not in genres, genres[:20])

# ---- similar items through the embedding --------------------------------------------------
st, _, sd = srv.json("/api/v1/items/1/similar?n=5")
t.check("similar: item2vec by default", st == 200 and sd["provider"] == "item2vec" and
        len(sd["items"]) == 5 and not sd["fallback"], sd)
st, _, sd = srv.json("/api/v1/items/1/similar?n=5&embedding=ials")
t.check("similar: embedding=ials", st == 200 and sd["provider"] == "ials", sd)
st, _, sd = srv.json("/api/v1/items/1/similar?n=5&embedding=cooc")
t.check("similar: embedding=cooc", st == 200 and sd["provider"] == "cooc_genre", sd)
st, hd, arr = srv.json("/getsimilarmovie?movieId=1&size=7&model=emb")
t.check("/getsimilarmovie model=emb through the ANN",
        st == 200 and len(arr) == 7 and hd.get("x-junco-model") == "item2vec", hd)

# ---- predictions --------------------------------------------------------------------------
st, _, p1 = srv.request("POST", "/api/v1/models/deepfm:predict",
                        body={"user": "1", "items": ["1", 2, "3"]})
p1 = json.loads(p1)
t.check("predict: 3 probabilities", st == 200 and p1["model"] == "deepfm" and
        len(p1["predictions"]) == 3 and all(0 < p < 1 for p in p1["predictions"]), p1)
st, _, p2 = srv.request("POST", "/v1/models/deepfm:predict",
                        body={"instances": [{"userId": 1, "movieId": "1"},
                                            {"userId": "1", "movieId": 3}]})
p2 = json.loads(p2)
t.check("predict (TF-Serving form) agrees with the batch form",
        st == 200 and len(p2["predictions"]) == 2 and
        abs(p2["predictions"][0][0] - p1["predictions"][0]) < 1e-5 and
        abs(p2["predictions"][1][0] - p1["predictions"][2]) < 1e-5, (p1, p2))
for path, body, code, what in (
        ("/api/v1/models/nope:predict", {"user": "1", "items": ["1"]}, 404, "unknown model"),
        ("/api/v1/models/deepfm:explain", {"user": "1", "items": ["1"]}, 404, "unknown action"),
        ("/api/v1/models/deepfm:predict", "{bad json", 400, "malformed JSON"),
        ("/api/v1/models/deepfm:predict", {"user": "1", "items": ["999999999"]}, 404,
         "unknown item"),
        ("/api/v1/models/deepfm:predict", {"user": "nobody", "items": ["1"]}, 404, "unknown user"),
        ("/api/v1/models/deepfm:predict", {"user": "1", "items": []}, 400, "no items"),
        ("/api/v1/models/deepfm:predict", {"user": "1", "items": ["1"] * 1001}, 400,
         "too many items")):
    st, _, b = srv.request("POST", path, body=body)
    t.check("predict error: %s -> %d" % (what, code), st == code and is_error_json(b), (st, b[:200]))

st, _, m = srv.get("/metrics")
text = m.decode()
t.check("/metrics: model version and fallback reason",
        metric(text, 'junco_model_version{model="deepfm"}') == 1 and
        (metric(text, 'junco_rank_fallback_total{model="din",reason="not_loaded"}') or 0) >= 1,
        [ln for ln in text.splitlines() if "model_version" in ln or "fallback" in ln])

# ---- hot reload under load ----------------------------------------------------------------
stop = threading.Event()
stats = {"ok": 0, "fail": 0, "versions": set(), "errors": []}
lock = threading.Lock()


def loader(k):
    conn = srv.conn(timeout=30)
    i = 0
    while not stop.is_set():
        u = 1 + (k * 97 + i * 13) % 600
        i += 1
        try:
            conn.request("GET", "/api/v1/users/%d/recommendations?n=10" % u)
            r = conn.getresponse()
            body = r.read()
            ok = r.status == 200
            v = json.loads(body).get("model_version") if ok else None
        except Exception as e:  # noqa: BLE001
            ok, v = False, None
            conn.close()
            conn = srv.conn(timeout=30)
            with lock:
                stats["errors"].append(repr(e))
        with lock:
            if ok:
                stats["ok"] += 1
                stats["versions"].add(v)
            else:
                stats["fail"] += 1
    conn.close()


threads = [threading.Thread(target=loader, args=(k,)) for k in range(4)]
for th in threads:
    th.start()
# 10 publishes as the acceptance asks (3 under the ~50x slower sanitizer build).
n_pub = 3 if os.environ.get("JC_SANITIZE") else 10
published = 0
for k in range(n_pub):
    r = run("--home", home, "-q", "train", "--model", "deepfm", "--epochs", "1", "--threads", "1")
    published += r.returncode == 0
    time.sleep(0.3)
r1 = run("--home", home, "-q", "embed", "--method", "item2vec", "--epochs", "5")
r2 = run("--home", home, "-q", "index", "build")
time.sleep(0.5)
stop.set()
for th in threads:
    th.join()
t.check("%d new model versions published while serving" % n_pub, published == n_pub, published)
t.check("embedding and index rebuilt while serving", r1.returncode == 0 and r2.returncode == 0,
        r1.stderr + r2.stderr)
t.check("zero failed requests during the reloads (%d ok)" % stats["ok"],
        stats["fail"] == 0 and stats["ok"] > 20, (stats["fail"], stats["errors"][:3]))
t.check("responses moved from model version 1 to %d" % (n_pub + 1),
        1 in stats["versions"] and (n_pub + 1) in stats["versions"], stats["versions"])
st, _, m = srv.get("/metrics")
text = m.decode()
t.check("/metrics reports model version %d and the snapshot reloads" % (n_pub + 1),
        metric(text, 'junco_model_version{model="deepfm"}') == n_pub + 1 and
        metric(text, 'junco_snapshot_reloads_total{result="ok"}') >= n_pub + 1, None)
st, _, sd = srv.json("/api/v1/items/1/similar?n=5")
t.check("similar still served from the rebuilt embedding", st == 200 and
        sd["provider"] == "item2vec", sd)
t.check("SIGTERM -> exit 0", srv.stop() == 0, srv.stderr_text()[-2000:])

# ---- nearline inside serve: posted events change the user's recall --------------------------
r = run("--home", home, "-q", "publish", "features")
t.check("publish features", r.returncode == 0, r.stderr)
srv3 = Server(home, "--no-ui", "--nearline", env={"JUNCO_SERVE_RELOAD_MS": "100"})


def channel_sets(user):
    st, _, d = srv3.json("/api/v1/users/%s/recommendations?n=1000&explain=1" % user)
    sets = {}
    for it in d["items"]:
        for c in it["explain"]["channels"]:
            sets.setdefault(c["name"], set()).add(it["item"]["id"])
    return st, d, sets


st, d0, before = channel_sets(5)
top = [it["item"]["id"] for it in d0["items"][:1]]
_, _, h5 = srv3.json("/api/v1/users/5?limit=1000")
seen5 = {r["item"]["id"] for r in h5["history"]["items"]}
# horror films far from the user's taste, plus the current top item
horror = [i for i in ("1258", "1350", "1387", "1997", "2710", "1982", "2160") if i not in seen5][:4]
liked = top + horror
t.check("nearline: recommendations before the events", st == 200 and len(horror) == 4, d0)
st, _, b = srv3.request("POST", "/api/v1/events",
                        body=[{"user": "5", "item": i, "type": "like"} for i in liked])
t.check("nearline: 5 likes accepted", st == 200 and json.loads(b)["accepted"] == 5, b)
after = None
for _ in range(50):
    time.sleep(0.1)
    st, d1, after = channel_sets(5)
    if d1["stages"]["realtime"] and not (set(liked) & {it["item"]["id"] for it in d1["items"]}):
        break
got = {it["item"]["id"] for it in d1["items"]}
t.check("nearline: the liked items are no longer recommended", not (set(liked) & got), liked)
t.check("nearline: the realtime user state is used", d1["stages"]["realtime"], d1["stages"])


def jacc(a, b):
    return len(a & b) / max(1, len(a | b))


t.check("nearline: emb_item recall changed (new recent positives)",
        jacc(before.get("emb_item", set()), after.get("emb_item", set())) < 0.6,
        jacc(before.get("emb_item", set()), after.get("emb_item", set())))
t.check("nearline: emb_user recall changed (realtime user vector)",
        jacc(before.get("emb_user", set()), after.get("emb_user", set())) < 0.6,
        jacc(before.get("emb_user", set()), after.get("emb_user", set())))
_, _, h1 = srv3.json("/api/v1/users/1?limit=1000")
fresh = set(liked) - {r["item"]["id"] for r in h1["history"]["items"]}
for _ in range(40):  # the trending list is rebuilt at most once a second
    st, _, tr = srv3.json("/api/v1/users/1/recommendations?n=50&scene=trend")
    head = {it["item"]["id"] for it in tr["items"][:len(fresh)]}
    if head == fresh:
        break
    time.sleep(0.1)
t.check("nearline: trending leads with the just-liked items (store pop: counters)",
        st == 200 and len(fresh) >= 2 and head == fresh and len(tr["items"]) == 50,
        (fresh, head))
st, _, m = srv3.get("/metrics")
t.check("nearline: events committed", (metric(m.decode(), "junco_nearline_events_out_total") or 0)
        >= 3, None)
t.check("nearline: SIGTERM -> exit 0", srv3.stop() == 0, srv3.stderr_text()[-2000:])

# ---- a home without models: phase-1 pipeline, skipped channels counted ---------------------
bare = harness.make_home(scratch("models-bare"))
with open(os.path.join(bare, "junco.ini"), "w") as f:
    f.write("[scene.emb]\nrecall = emb_user:50, mf:50, trending:50\nranker = model\n")
srv2 = Server(bare, "--no-ui", env=env)
st, _, d = srv2.json("/api/v1/users/1/recommendations?n=10&explain=1")
t.check("bare home: phase-1 default scene",
        st == 200 and d["ranker"] == "heuristic" and
        [c["channel"] for c in d["stages"]["recall"]] == ["genre_pref", "cooc", "popular"], d)
st, _, d = srv2.json("/api/v1/users/1/recommendations?n=10&scene=emb&explain=1")
sk = {c["channel"]: c["skipped"] for c in d["stages"]["recall"]}
t.check("bare home: emb/mf skipped, trending from the catalog, recall-score fallback",
        st == 200 and sk == {"emb_user": True, "mf": True, "trending": False} and
        d["ranker"] == "recall" and d["fallback"] and len(d["items"]) == 10, d)
st, _, m = srv2.get("/metrics")
text = m.decode()
t.check("bare home: /metrics counts skipped channels and the fallback",
        metric(text, 'junco_recall_channel_skipped_total{channel="emb_user",reason="no_resource"}')
        == 1 and metric(text, 'junco_rank_fallback_total{model="model",reason="not_loaded"}') == 1,
        [ln for ln in text.splitlines() if "skipped" in ln or "fallback" in ln])
st, _, sd = srv2.json("/api/v1/items/1/similar?n=5")
t.check("bare home: similar by co-occurrence", st == 200 and sd["provider"] == "cooc_genre", sd)
t.check("bare home: SIGTERM -> exit 0", srv2.stop() == 0, srv2.stderr_text()[-2000:])
t.finish()
