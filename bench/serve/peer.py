#!/usr/bin/env python3
"""peer.py - the Python peer of the serving benchmark.

What a user would otherwise write: the same two endpoints served from the
Python standard library (http.server.ThreadingHTTPServer, HTTP/1.1
keep-alive), over the same MovieLens CSV files:
  GET /getmovie?id=N            the reference Movie JSON with topRatings
                                (serialised once at start: the peer's best case)
  GET /api/v1/users/N/recommendations?n=10
                                genre-preference + popularity recall,
                                watched items removed, ranked by the same
                                heuristic as junco's phase-1 "heuristic"
                                ranker (genre affinity, damped rating,
                                recall score); no co-occurrence channel and
                                no MMR, i.e. less work than junco does.
Prints "listening on http://127.0.0.1:PORT" like `junco serve`.
  peer.py DATA_DIR [PORT]
"""
import csv
import json
import math
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

data = sys.argv[1]
port = int(sys.argv[2]) if len(sys.argv) > 2 else 0

movies, order = {}, []
for r in csv.DictReader(open(os.path.join(data, "movies.csv"), encoding="utf-8")):
    t = r["title"].strip()
    year = int(t[-5:-1]) if len(t) > 6 and t[-1] == ")" and t[-5:-1].isdigit() else 0
    g = [] if r["genres"] == "(no genres listed)" else r["genres"].split("|")
    movies[r["movieId"]] = {"title": t, "year": year, "genres": g, "ratings": []}
    order.append(r["movieId"])
links = {r["movieId"]: r for r in csv.DictReader(open(os.path.join(data, "links.csv")))}
users = {}
total = 0.0
count = 0
for r in csv.DictReader(open(os.path.join(data, "ratings.csv"))):
    row = (int(r["userId"]), int(r["movieId"]), float(r["rating"]), int(r["timestamp"]))
    movies[r["movieId"]]["ratings"].append(row)
    users.setdefault(r["userId"], []).append(row)
    total += row[2]
    count += 1
gmean = total / count
for m in movies.values():
    n = len(m["ratings"])
    s = sum(x[2] for x in m["ratings"])
    m["count"] = n
    m["mean"] = s / n if n else 0.0
    m["damped"] = (s + 10 * gmean) / (n + 10)
max_count = max(m["count"] for m in movies.values())
by_pop = sorted(order, key=lambda k: (-movies[k]["count"], -movies[k]["damped"]))
by_genre = {}
for k in sorted(order, key=lambda k: (-movies[k]["damped"], -movies[k]["count"])):
    for g in movies[k]["genres"]:
        by_genre.setdefault(g, []).append(k)


def movie_json(mid):
    m = movies[mid]
    top = sorted(m["ratings"], key=lambda x: (-x[2], -x[3]))[:10]
    return {"movieId": int(mid), "title": m["title"], "releaseYear": m["year"],
            "imdbId": links.get(mid, {}).get("imdbId", ""),
            "tmdbId": links.get(mid, {}).get("tmdbId", ""), "genres": m["genres"],
            "ratingNumber": m["count"], "averageRating": m["mean"],
            "topRatings": [{"rating": {"movieId": x[1], "userId": x[0], "score": x[2],
                                       "timestamp": x[3]}} for x in top]}


def recommend(uid, n):
    hist = users[uid]
    umean = sum(x[2] for x in hist) / len(hist)
    watched = {str(x[1]) for x in hist}
    pref = {}
    for x in hist:
        w = 1.0 if x[2] >= umean else 0.5
        for g in movies[str(x[1])]["genres"]:
            pref[g] = pref.get(g, 0.0) + w
    tot = sum(pref.values()) or 1.0
    pref = {g: v / tot for g, v in pref.items()}
    pmax = max(pref.values()) if pref else 0.0
    cands = {}
    top = sorted(pref, key=lambda g: -pref[g])[:3]
    psum = sum(pref[g] for g in top) or 1.0
    for g in top:
        q = max(1, round(200 * pref[g] / psum))
        taken = 0
        for k in by_genre.get(g, []):
            if taken >= q:
                break
            if k in watched:
                continue
            s = pref[g] / pmax * (1 - taken / q)
            cands[k] = cands.get(k, 0.0) + s
            taken += 1
    taken = 0
    lmax = math.log1p(max_count)
    for k in by_pop:
        if taken >= 100:
            break
        if k in watched:
            continue
        cands[k] = cands.get(k, 0.0) + 0.5 * math.log1p(movies[k]["count"]) / lmax
        taken += 1
    rmax = max(cands.values()) if cands else 1.0
    scored = []
    for k, rec in cands.items():
        g = movies[k]["genres"]
        aff = min(1.0, sum(pref.get(x, 0.0) for x in g) / (pmax * math.sqrt(len(g)))) \
            if g and pmax else 0.0
        scored.append((0.4 * aff + 0.35 * movies[k]["damped"] / 5 + 0.25 * rec / rmax, k))
    scored.sort(key=lambda x: (-x[0], x[1]))
    return [{"item": {"id": k, "title": movies[k]["title"], "year": movies[k]["year"],
                      "genres": movies[k]["genres"]}, "score": s} for s, k in scored[:n]]


# The peer's best configuration: every movie's JSON serialised once at start.
movie_bytes = {mid: json.dumps(movie_json(mid), separators=(",", ":")).encode()
               for mid in movies}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without TCP_NODELAY, Nagle's
    # algorithm and delayed ACKs stall every keep-alive response by ~40 ms.
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def send_json(self, status, obj):
        body = obj if isinstance(obj, bytes) else json.dumps(obj, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        u = urlparse(self.path)
        q = parse_qs(u.query)
        if u.path == "/getmovie":
            mid = q.get("id", [""])[0]
            if mid not in movies:
                return self.send_json(404, {"error": {"code": "not_found", "message": mid}})
            return self.send_json(200, movie_bytes[mid])
        parts = u.path.strip("/").split("/")
        if len(parts) == 5 and parts[:3] == ["api", "v1", "users"] and \
                parts[4] == "recommendations":
            uid = parts[3]
            if uid not in users:
                return self.send_json(404, {"error": {"code": "not_found", "message": uid}})
            n = int(q.get("n", ["10"])[0])
            return self.send_json(200, {"user": uid, "items": recommend(uid, n)})
        return self.send_json(404, {"error": {"code": "not_found", "message": u.path}})


srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
srv.daemon_threads = True
print("listening on http://127.0.0.1:%d" % srv.server_address[1], flush=True)
try:
    srv.serve_forever()
except KeyboardInterrupt:
    pass
