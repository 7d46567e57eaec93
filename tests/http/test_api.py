#!/usr/bin/env python3
"""test_api.py - black-box tests of every endpoint of `junco serve`.

Ground truth comes from the CSV files of data/ml-latest-small, read here
with the csv module: statuses, headers (CORS, content types), JSON shapes and
values, plus bad input (missing/invalid parameters, unknown ids, oversized
and malformed bodies, traversal) which must give a 4xx JSON error and never
crash the server. Ends with a SIGTERM and checks the exit status and the
access log.
"""
import csv
import json
import os
import random
import re
import signal
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ML, Server, Tap, is_error_json, make_home, scratch  # noqa: E402

t = Tap()
tmp = scratch("api")
home = make_home(tmp)

# ---- ground truth ----------------------------------------------------------
movies = {}
for r in csv.DictReader(open(os.path.join(ML, "movies.csv"), encoding="utf-8")):
    movies[r["movieId"]] = {"title": r["title"].strip(),
                            "genres": [] if r["genres"] == "(no genres listed)"
                            else r["genres"].split("|")}
links = {r["movieId"]: r for r in csv.DictReader(open(os.path.join(ML, "links.csv")))}
ratings_by_movie, ratings_by_user = {}, {}
for r in csv.DictReader(open(os.path.join(ML, "ratings.csv"))):
    row = (r["userId"], r["movieId"], float(r["rating"]), int(r["timestamp"]))
    ratings_by_movie.setdefault(r["movieId"], []).append(row)
    ratings_by_user.setdefault(r["userId"], []).append(row)

srv = Server(home, "--threads", "2")
t.check("server prints its URL and runs", srv.port > 0)

# ---- operations --------------------------------------------------------------
st, hd, d = srv.json("/healthz")
t.check("/healthz 200 ok", st == 200 and d["status"] == "ok", d)
t.check("/healthz is JSON", hd.get("content-type") == "application/json", hd)
st, hd, d = srv.json("/readyz")
t.check("/readyz 200 ready with the catalog", st == 200 and d["ready"] is True and
        d["components"]["catalog"]["items"] == 9742 and
        d["components"]["catalog"]["users"] == 610, d)

# ---- /getmovie -----------------------------------------------------------------
st, hd, d = srv.json("/getmovie?id=11")
t.check("/getmovie?id=11 200", st == 200, (st, d))
t.check("/getmovie CORS *", hd.get("access-control-allow-origin") == "*", hd)
t.check("/getmovie JSON content type", hd.get("content-type") == "application/json", hd)
t.check("/getmovie title with a comma", d["title"] == "American President, The (1995)", d)
t.check("/getmovie keys in the reference's order",
        list(d.keys()) == ["movieId", "title", "releaseYear", "imdbId", "tmdbId", "genres",
                           "ratingNumber", "averageRating", "topRatings"], list(d.keys()))
rs = ratings_by_movie["11"]
t.check("/getmovie values", d["movieId"] == 11 and d["releaseYear"] == 1995 and
        d["imdbId"] == links["11"]["imdbId"] and d["tmdbId"] == links["11"]["tmdbId"] and
        d["genres"] == ["Comedy", "Drama", "Romance"] and d["ratingNumber"] == len(rs) == 70,
        d)
t.check("/getmovie averageRating", abs(d["averageRating"] - sum(x[2] for x in rs) / len(rs))
        < 1e-12, d["averageRating"])
top = sorted((x[2] for x in rs), reverse=True)[:10]
t.check("/getmovie topRatings: the 10 best, wrapped as {rating:{...}}",
        [x["rating"]["score"] for x in d["topRatings"]] == top and
        all(set(x["rating"]) == {"movieId", "userId", "score", "timestamp"} and
            x["rating"]["movieId"] == 11 for x in d["topRatings"]), d["topRatings"])
st, hd, d = srv.json("/getmovie?id=1")
t.check("/getmovie?id=1 Toy Story", st == 200 and d["title"] == "Toy Story (1995)" and
        d["ratingNumber"] == 215, d)

# every movie present with its exact title, on one keep-alive connection
c = srv.conn()
bad = []
for mid, m in movies.items():
    st, hd, body = srv.request("GET", "/getmovie?id=" + mid, conn=c)
    if st != 200:
        bad.append((mid, st))
        continue
    j = json.loads(body)
    if j["title"] != m["title"] or j["genres"] != m["genres"]:
        bad.append((mid, j["title"], m["title"]))
c.close()
t.check("all 9742 movies served with exact titles and genres (keep-alive)", not bad, bad[:5])

st, hd, body = srv.get("/nope/nothing")
st2, hd2, body2 = srv.get("/getmovie?id=1")
t.check("every response has an X-Request-Id, distinct per request",
        re.match(r"^[0-9a-f]{16}$", hd.get("x-request-id", "")) is not None and
        re.match(r"^[0-9a-f]{16}$", hd2.get("x-request-id", "")) is not None and
        hd["x-request-id"] != hd2["x-request-id"], (hd, hd2))
for path, code, status in [("/getmovie", "missing_parameter", 400),
                           ("/getmovie?id=", "missing_parameter", 400),
                           ("/getmovie?id=99999999", "not_found", 404),
                           ("/getmovie?id=abc", "not_found", 404),
                           ("/getmovie?id=%00%ff%0a", "not_found", 404),
                           ("/getmovie?id=%001", "not_found", 404)]:
    st, hd, body = srv.get(path)
    t.check("%s -> %d %s" % (path, status, code), st == status and is_error_json(body, code) and
            hd.get("access-control-allow-origin") == "*", (st, body))

# ---- /getuser ------------------------------------------------------------------------
st, hd, d = srv.json("/getuser?id=1")
ur = ratings_by_user["1"]
t.check("/getuser?id=1 200 with the reference keys",
        st == 200 and list(d.keys()) == ["userId", "averageRating", "highestRating",
                                         "lowestRating", "ratingCount", "ratings"], d.keys())
t.check("/getuser values", d["userId"] == 1 and d["ratingCount"] == 232 == len(ur) and
        abs(d["averageRating"] - sum(x[2] for x in ur) / len(ur)) < 1e-12 and
        d["highestRating"] == max(x[2] for x in ur) and
        d["lowestRating"] == min(x[2] for x in ur), d)
t.check("/getuser ratings wrapped and complete",
        len(d["ratings"]) == 232 and
        sorted((x["rating"]["movieId"], x["rating"]["score"]) for x in d["ratings"]) ==
        sorted((int(x[1]), x[2]) for x in ur), None)
st, hd, body = srv.get("/getuser?id=100000")
t.check("/getuser unknown -> 404 JSON", st == 404 and is_error_json(body, "not_found"), body)
st, hd, body = srv.get("/getuser")
t.check("/getuser missing id -> 400", st == 400 and is_error_json(body), body)

# ---- /getrecommendation ----------------------------------------------------------------
st, hd, d = srv.json("/getrecommendation?genre=Action&size=8&sortby=rating")
t.check("/getrecommendation rating: 8 Action movies, averageRating non-increasing",
        st == 200 and len(d) == 8 and all("Action" in m["genres"] for m in d) and
        all(d[i]["averageRating"] >= d[i + 1]["averageRating"] for i in range(7)), d)
t.check("/getrecommendation items are full reference movies",
        all("topRatings" in m and "ratingNumber" in m for m in d), None)
st, hd, d = srv.json("/getrecommendation?genre=Comedy&size=20&sortby=releaseYear")
t.check("/getrecommendation releaseYear: years non-increasing",
        st == 200 and len(d) == 20 and
        all(d[i]["releaseYear"] >= d[i + 1]["releaseYear"] for i in range(19)), None)
n_drama = sum(1 for m in movies.values() if "Drama" in m["genres"])
st, hd, d = srv.json("/getrecommendation?genre=Drama&size=1000")
t.check("/getrecommendation size caps the list", st == 200 and len(d) == min(1000, n_drama), None)
for path, status in [("/getrecommendation?genre=Nope&size=5", 404),
                     ("/getrecommendation?genre=Action&size=0", 400),
                     ("/getrecommendation?genre=Action&size=1001", 400),
                     ("/getrecommendation?genre=Action&size=abc", 400),
                     ("/getrecommendation?genre=Action&size=5&sortby=bogus", 400)]:
    st, hd, body = srv.get(path)
    t.check("%s -> %d" % (path, status), st == status and is_error_json(body), (st, body))

# ---- /getsimilarmovie ---------------------------------------------------------------------
st, hd, d = srv.json("/getsimilarmovie?movieId=1&size=10&model=emb")
t.check("/getsimilarmovie: 10 movies, not the movie itself",
        st == 200 and len(d) == 10 and all(m["movieId"] != 1 for m in d), d)
t.check("/getsimilarmovie: Toy Story 2 is the nearest", d[0]["title"] == "Toy Story 2 (1999)",
        d[0]["title"])
t.check("/getsimilarmovie reports the fallback model",
        hd.get("x-junco-model") == "cooc_genre (fallback)", hd)
for path, status in [("/getsimilarmovie?size=5", 400),
                     ("/getsimilarmovie?movieId=424242&size=5", 404),
                     ("/getsimilarmovie?movieId=1&size=5&model=bogus", 400)]:
    st, hd, body = srv.get(path)
    t.check("%s -> %d" % (path, status), st == status and is_error_json(body), (st, body))

# ---- /getrecforyou ------------------------------------------------------------------------
watched1 = {int(x[1]) for x in ratings_by_user["1"]}
for model in ["nerualcf", "neuralcf", "emb", "deepfm"]:
    st, hd, d = srv.json("/getrecforyou?id=1&size=20&model=" + model)
    t.check("/getrecforyou model=%s: 20 unwatched movies" % model,
            st == 200 and len(d) == 20 and not ({m["movieId"] for m in d} & watched1) and
            len({m["movieId"] for m in d}) == 20, d if st != 200 else None)
t.check("/getrecforyou says which ranker served", hd.get("x-junco-ranker") == "heuristic", hd)
for path, status in [("/getrecforyou?size=5", 400), ("/getrecforyou?id=99999&size=5", 404),
                     ("/getrecforyou?id=1&size=5&model=telepathy", 400),
                     ("/getrecforyou?id=1&size=-3", 400)]:
    st, hd, body = srv.get(path)
    t.check("%s -> %d" % (path, status), st == status and is_error_json(body), (st, body))

# ---- REST: items ------------------------------------------------------------------------------
st, hd, d = srv.json("/api/v1/items/11")
t.check("GET /api/v1/items/11", st == 200 and d["title"] == "American President, The (1995)" and
        d["year"] == 1995 and d["imdbId"] == "0112346" and d["tmdbId"] == "9087" and
        d["links"]["imdb"] == "https://www.imdb.com/title/tt0112346/" and
        d["links"]["tmdb"] == "https://www.themoviedb.org/movie/9087" and
        d["rating"]["count"] == 70, d)
mean = sum(x[2] for x in rs) / len(rs)
std = (sum((x[2] - mean) ** 2 for x in rs) / len(rs)) ** 0.5
t.check("items/{id} rating mean and stddev", abs(d["rating"]["mean"] - mean) < 1e-9 and
        abs(d["rating"]["stddev"] - std) < 1e-9, d["rating"])
t.check("items/{id} CORS", hd.get("access-control-allow-origin") == "*", hd)
st, hd, d = srv.json("/api/v1/items/1")
t.check("items/1 tags counted", st == 200 and {"tag": "pixar", "count": 2} in d["tags"], d["tags"])
st, hd, body = srv.get("/api/v1/items/0")
t.check("items/0 -> 404", st == 404 and is_error_json(body, "not_found"), body)

st, hd, d = srv.json("/api/v1/items?q=STAR%20WARS&n=50&sort=year")
want = sorted(mid for mid, m in movies.items() if "star wars" in m["title"].lower())
t.check("title search is case-insensitive and complete",
        st == 200 and d["total"] == len(want) and sorted(i["id"] for i in d["items"]) == want,
        (d.get("total"), len(want)))
t.check("title search sorted by year", all((d["items"][k]["year"] or 0) >=
                                           (d["items"][k + 1]["year"] or 0)
                                           for k in range(len(d["items"]) - 1)), None)
st, hd, d = srv.json("/api/v1/items?genre=Drama&sort=popularity&n=5")
pop = sorted(((len(ratings_by_movie.get(mid, [])), mid) for mid, m in movies.items()
              if "Drama" in m["genres"]), key=lambda x: -x[0])
t.check("items?genre=Drama&sort=popularity", st == 200 and d["total"] == n_drama and
        [i["rating"]["count"] for i in d["items"]] == [p[0] for p in pop[:5]], d)
st, hd, d2 = srv.json("/api/v1/items?genre=Drama&sort=popularity&n=3&offset=2")
t.check("items pagination", [i["id"] for i in d2["items"]] == [i["id"] for i in d["items"][2:5]],
        d2)
st, hd, d = srv.json("/api/v1/items?sort=rating&n=10")
t.check("items?sort=rating: damped mean non-increasing",
        all(d["items"][k]["rating"]["damped"] >= d["items"][k + 1]["rating"]["damped"]
            for k in range(9)), d)
for path, status in [("/api/v1/items?n=1001", 400), ("/api/v1/items?n=0", 400),
                     ("/api/v1/items?sort=weird", 400), ("/api/v1/items?genre=Nope", 404),
                     ("/api/v1/items?offset=-1", 400), ("/api/v1/items?q=" + "x" * 300, 400)]:
    st, hd, body = srv.get(path)
    t.check("%s -> %d" % (path[:60], status), st == status and is_error_json(body), (st, body))

st, hd, d = srv.json("/api/v1/genres")
gcount = {}
for m in movies.values():
    for g in m["genres"]:
        gcount[g] = gcount.get(g, 0) + 1
got = {g["name"]: g["items"] for g in d["genres"]}
t.check("genres with item counts", st == 200 and all(got.get(g) == n for g, n in gcount.items()),
        (got, gcount))

st, hd, d = srv.json("/api/v1/items/1/similar?n=5&embedding=item2vec")
t.check("items/{id}/similar", st == 200 and len(d["items"]) == 5 and d["fallback"] is True and
        d["provider"] == "cooc_genre" and d["items"][0]["item"]["id"] == "3114", d)

st, hd, d = srv.json("/api/v1/info")
t.check("info lists models and scenes", st == 200 and
        {"name": "heuristic", "loaded": True} in d["models"] and
        {"name": "deepfm", "loaded": False} in d["models"] and d["scenes"][0]["name"] == "default",
        d)

# ---- REST: users ------------------------------------------------------------------------------
st, hd, d = srv.json("/api/v1/users/1?limit=5&offset=5")
t.check("users/{id} summary", st == 200 and d["interactions"] == 232 and
        d["favourite_genres"][0]["genre"] == "Action" and d["favourite_genres"][0]["count"] == 90,
        d)
times = sorted((x[3] for x in ur), reverse=True)
t.check("users/{id} history: most recent first, paginated",
        d["history"]["total"] == 232 and len(d["history"]["items"]) == 5 and
        [x["time"] for x in d["history"]["items"]] == times[5:10], d["history"])
t.check("history items are from the user's ratings",
        all((x["item"]["id"], x["value"]) in {(r[1], r[2]) for r in ur}
            for x in d["history"]["items"]), None)
st, hd, body = srv.get("/api/v1/users/nobody")
t.check("users/nobody -> 404", st == 404 and is_error_json(body, "not_found"), body)

st, hd, d = srv.json("/api/v1/users/1/recommendations?n=20&explain=1")
ids = [x["item"]["id"] for x in d["items"]]
t.check("recommendations: 20 distinct unwatched items",
        st == 200 and len(ids) == 20 == len(set(ids)) and
        not ({int(i) for i in ids} & watched1), d if st != 200 else ids)
t.check("recommendations shape", d["scene"] == "default" and d["ranker"] == "heuristic" and
        d["experiment"] is None and d["variant"] is None and d["experiments"] == [] and
        d["candidates"] > 20 and [x["position"] for x in d["items"]] == list(range(1, 21)), d)
t.check("recommendations carry the request id of the X-Request-Id header",
        re.match(r"^[0-9a-f]{16}$", d["request_id"]) is not None and
        hd.get("x-request-id") == d["request_id"] and "x-junco-experiment" not in hd, hd)
known = {"genre_pref", "cooc", "popular", "newest"}
t.check("explain=1: channels, stage scores and the pipeline",
        all(x["explain"]["channels"] and {c["name"] for c in x["explain"]["channels"]} <= known
            and "rank" in x["explain"] for x in d["items"]) and
        [s["channel"] for s in d["stages"]["recall"]] == ["genre_pref", "cooc", "popular"], d)
st, hd, d2 = srv.json("/api/v1/users/1/recommendations?n=10&offset=10")
t.check("recommendations pagination", [x["item"]["id"] for x in d2["items"]] == ids[10:20],
        ([x["item"]["id"] for x in d2["items"]], ids[10:20]))
st, hd, d3 = srv.json("/api/v1/users/1/recommendations?n=10&exclude=%s,%s,nope" % (ids[0], ids[1]))
t.check("exclude removes items", st == 200 and ids[0] not in [x["item"]["id"] for x in d3["items"]]
        and ids[1] not in [x["item"]["id"] for x in d3["items"]], d3)
st, hd, d3 = srv.json("/api/v1/users/1/recommendations?n=10&genre=Comedy")
t.check("genre filter", st == 200 and len(d3["items"]) == 10 and
        all("Comedy" in x["item"]["genres"] for x in d3["items"]), d3)
st, hd, d3 = srv.json("/api/v1/users/1/recommendations?n=5&model=deepfm")
t.check("unloaded model falls back and says so", st == 200 and d3["fallback"] is True and
        "deepfm" in d3["fallback_reason"] and d3["requested_model"] == "deepfm", d3)
st, hd, d3 = srv.json("/api/v1/users/1/recommendations?n=5&model=recall")
t.check("model=recall uses the recall ranker", st == 200 and d3["ranker"] == "recall" and
        d3["fallback"] is False, d3)
for path, status in [("/api/v1/users/1/recommendations?n=0", 400),
                     ("/api/v1/users/1/recommendations?n=1001", 400),
                     ("/api/v1/users/1/recommendations?scene=nope", 404),
                     ("/api/v1/users/1/recommendations?model=oracle", 400),
                     ("/api/v1/users/1/recommendations?explain=maybe", 400),
                     ("/api/v1/users/1/recommendations?exclude=" + ",".join(["1"] * 1001), 400),
                     ("/api/v1/users/777777/recommendations", 404)]:
    st, hd, body = srv.get(path)
    t.check("%s -> %d" % (path[:70], status), st == status and is_error_json(body), (st, body))

# ---- POST items:lookup: bodies ------------------------------------------------------------
st, hd, body = srv.request("POST", "/api/v1/items:lookup", body={"ids": ["1", 11, "nope"]})
d = json.loads(body)
t.check("POST items:lookup", st == 200 and [i["id"] for i in d["items"]] == ["1", "11"] and
        d["missing"] == ["nope"], d)
st, hd, body = srv.request("POST", "/api/v1/items:lookup", body='{"ids": [1, 2',
                           headers={"Content-Type": "application/json"})
t.check("malformed JSON -> 400 invalid_json", st == 400 and is_error_json(body, "invalid_json"),
        body)
st, hd, body = srv.request("POST", "/api/v1/items:lookup", body='[1,2]')
t.check("wrong JSON shape -> 400", st == 400 and is_error_json(body, "invalid_body"), body)
st, hd, body = srv.request("POST", "/api/v1/items:lookup", body={"ids": [{"x": 1}]})
t.check("wrong id type -> 400", st == 400 and is_error_json(body, "invalid_body"), body)
st, hd, body = srv.request("POST", "/api/v1/items:lookup", body="")
t.check("empty body -> 400", st == 400 and is_error_json(body), body)
big = json.dumps({"ids": ["1"] * 40000})
st, hd, body = srv.request("POST", "/api/v1/items:lookup", body=big)
t.check("oversized body (Content-Length) -> 413", st == 413 and
        is_error_json(body, "payload_too_large"), (st, body[:200]))
chunked = (b"POST /api/v1/items:lookup HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
           b"Content-Type: application/json\r\n\r\n")
payload = json.dumps({"ids": ["1"] * 20000}).encode()
for k in range(0, len(payload), 8192):
    part = payload[k:k + 8192]
    chunked += b"%x\r\n" % len(part) + part + b"\r\n"
chunked += b"0\r\n\r\n"
reply = srv.raw(chunked)
t.check("oversized chunked body -> 413", reply.startswith(b"HTTP/1.1 413") and
        b"payload_too_large" in reply, reply[:300])
st, hd, body = srv.request("GET", "/getmovie?id=1", body="x" * 10)
t.check("body on a GET endpoint -> 413", st == 413 and is_error_json(body), (st, body))

# ---- methods, unknown paths, CORS preflight, HEAD --------------------------------------------
st, hd, body = srv.request("POST", "/getmovie?id=1")
t.check("POST /getmovie -> 405 with Allow", st == 405 and hd.get("allow") == "GET, HEAD" and
        is_error_json(body, "method_not_allowed"), (st, hd, body))
st, hd, body = srv.request("DELETE", "/api/v1/items/1")
t.check("DELETE items/1 -> 405", st == 405 and is_error_json(body), (st, body))
st, hd, body = srv.request("GET", "/api/v1/admin/reload")
t.check("GET admin/reload -> 405", st == 405 and hd.get("allow") == "POST", (st, hd))
st, hd, body = srv.request("POST", "/nowhere")
t.check("POST unknown path -> 404 JSON", st == 404 and is_error_json(body), (st, body))
st, hd, body = srv.get("/api/v2/things")
t.check("GET unknown API path -> 404 JSON", st == 404 and is_error_json(body), (st, body))
st, hd, body = srv.request("OPTIONS", "/api/v1/items/1",
                           headers={"Origin": "http://example.test",
                                    "Access-Control-Request-Method": "GET"})
t.check("OPTIONS preflight -> 204 with CORS headers", st == 204 and
        "GET" in hd.get("access-control-allow-methods", "") and
        hd.get("access-control-allow-origin") == "*", (st, hd))
st, hd, body = srv.request("HEAD", "/getmovie?id=1")
t.check("HEAD /getmovie -> 200 without a body", st == 200 and body == b"" and
        int(hd.get("content-length", "0")) > 100, (st, hd))
st, hd, body = srv.get("/" + "a" * 3000)
t.check("very long path -> 414", st == 414 and is_error_json(body), (st, body[:100]))
st, hd, d = srv.json("/debug/sleep?ms=1")
t.check("debug routes are off by default (404)", st == 404, st)

# ---- static files and traversal ----------------------------------------------------------------
st, hd, body = srv.get("/")
t.check("GET / serves the UI", st == 200 and hd.get("content-type", "").startswith("text/html")
        and b"app.js" in body, (st, hd))
st, hd, body = srv.get("/app.js")
t.check("GET /app.js", st == 200 and hd.get("content-type", "").startswith("text/javascript"),
        (st, hd))
st, hd, body = srv.get("/style.css")
t.check("GET /style.css", st == 200 and hd.get("content-type", "").startswith("text/css"), hd)
for raw_path in [b"/../../../../etc/passwd", b"/%2e%2e/%2e%2e/etc/passwd",
                 b"/..%2f..%2f..%2fetc%2fpasswd", b"/%2E%2E/CMakeLists.txt",
                 b"/web/../../CMakeLists.txt", b"/.git/config", b"/index.html%00.js",
                 b"/..\\..\\etc\\passwd"]:
    reply = srv.raw(b"GET " + raw_path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    status = int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/1.1 ") else 0
    t.check("traversal %s -> 4xx, no file content" % raw_path.decode(),
            400 <= status < 500 and b"root:" not in reply and b"cmake_minimum" not in reply,
            reply[:200])

# ---- evaluation reports under /reports/ ----------------------------------------------------------
st, hd, body = srv.get("/reports/eval/report.html")
t.check("/reports before any report -> 404 JSON naming junco eval",
        st == 404 and is_error_json(body, "not_found") and b"junco eval" in body, body)
os.makedirs(os.path.join(home, "reports", "eval"), exist_ok=True)
with open(os.path.join(home, "reports", "eval", "report.html"), "w") as f:
    f.write("<!doctype html><title>junco evaluation</title><p>leaderboard</p>")
st, hd, body = srv.get("/reports/eval/report.html")
t.check("/reports serves the latest evaluation report",
        st == 200 and hd.get("content-type", "").startswith("text/html") and
        b"leaderboard" in body, (st, hd, body[:100]))
st, hd, body = srv.get("/app.js")
t.check("the UI links the evaluation report", b"/reports/eval/report.html" in body)
for raw_path in [b"/reports/../junco.ini", b"/reports/%2e%2e/catalog/catalog.jcat",
                 b"/reports/eval/../../catalog/catalog.jcat"]:
    reply = srv.raw(b"GET " + raw_path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    status = int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/1.1 ") else 0
    t.check("reports traversal %s -> 4xx" % raw_path.decode(), 400 <= status < 500, reply[:200])

# ---- metrics after traffic --------------------------------------------------------------------
st, hd, body = srv.get("/metrics")
text = body.decode()
t.check("/metrics Prometheus content type",
        hd.get("content-type") == "text/plain; version=0.0.4; charset=utf-8", hd)
m = re.search(r'^junco_http_requests_total\{route="/getmovie",code="200"\} (\d+)$', text, re.M)
t.check("/metrics counts /getmovie 200s", m is not None and int(m.group(1)) >= 9743, m)
t.check("/metrics has latency histograms and pipeline stages",
        'junco_http_request_duration_seconds_bucket{route="/getmovie",le="+Inf"}' in text and
        'junco_pipeline_stage_seconds_count{stage="recall"}' in text and
        'junco_rank_fallback_total{model="deepfm",reason="not_loaded"}' in text, None)
line_re = re.compile(r'^(# (HELP|TYPE) .*|[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? -?[0-9.e+-]+|'
                     r'[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? (NaN|\+Inf|-Inf))$')
badlines = [ln for ln in text.splitlines() if not line_re.match(ln)]
t.check("/metrics every line is valid exposition syntax", not badlines, badlines[:5])

# ---- random garbage never crashes -----------------------------------------------------------------
rnd = random.Random(42)
paths = ["/getmovie", "/getuser", "/getrecommendation", "/getsimilarmovie", "/getrecforyou",
         "/api/v1/items", "/api/v1/items/1/similar", "/api/v1/users/1/recommendations",
         "/api/v1/users/1"]
params = ["id", "size", "n", "offset", "genre", "sortby", "sort", "model", "q", "movieId",
          "explain", "exclude", "limit", "scene"]
vals = ["", "0", "-1", "1", "99999999999999999999", "1e3", "%00", "%ff%fe", "Drama", "a,b,,c",
        "nerualcf", "1'; DROP TABLE x", "%25s%25n%25x", "\u00e9", "18446744073709551616"]
worst = 0
c = srv.conn()
for _ in range(300):
    p = rnd.choice(paths) + "?" + "&".join(
        "%s=%s" % (rnd.choice(params), urllib.parse.quote(rnd.choice(vals), safe="%,"))
        for _ in range(rnd.randint(0, 4)))
    st, hd, body = srv.request("GET", p, conn=c)
    worst = max(worst, st)
    if st >= 400 and not is_error_json(body):
        worst = 999
        break
c.close()
t.check("300 random parameter combinations: only 2xx/4xx JSON answers", worst < 500, worst)
st, hd, d = srv.json("/healthz")
t.check("server still healthy after the garbage", st == 200, st)

# ---- graceful stop and the access log ----------------------------------------------------------------
rc = srv.stop()
t.check("SIGTERM -> exit 0", rc == 0, srv.stderr_text())
log = os.path.join(home, "logs", "access.log")
lines = open(log).read().splitlines() if os.path.exists(log) else []
entries = [json.loads(x) for x in lines]
hit = [e for e in entries if e["path"] == "/getmovie" and e.get("query") == "id=11"]
t.check("access log: one JSON line per request with the fields",
        len(entries) > 9800 and hit and hit[0]["status"] == 200 and hit[0]["method"] == "GET" and
        hit[0]["route"] == "/getmovie" and hit[0]["bytes"] > 500 and "latency_us" in hit[0] and
        re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", hit[0]["ts"]) and
        hit[0]["remote"] == "127.0.0.1" and
        re.match(r"^[0-9a-f]{16}$", hit[0].get("request_id", "")), (len(entries), hit[:1]))
t.check("access log records errors with their code",
        any(e["status"] == 404 and e.get("error") == "not_found" for e in entries), None)
t.finish()
