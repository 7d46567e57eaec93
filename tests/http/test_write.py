#!/usr/bin/env python3
"""test_write.py - the write endpoints of `junco serve`, black box.

POST /api/v1/events (one object, an array, JSON lines; per-line errors;
?strict=1; limits) appends durably: the events are in the log (`junco events
tail`, a read-only reader) with their fields. POST /api/v1/items and
/api/v1/users upsert into the overlay: new and updated entities appear in
every catalog-backed endpoint and the pipeline at once, survive a restart
(the overlay file), and bad bodies get 4xx JSON errors with nothing
changed. All three need the API key off loopback. A corrupt overlay file
stops the start.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, Tap, is_error_json, make_home, run, scratch  # noqa: E402

t = Tap()
tmp = scratch("write")
home = make_home(tmp)
srv = Server(home, "--set", "events.custom_types=add_to_cart")


def post(path, body, headers=None, s=None):
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    st, hd, data = (s or srv).request("POST", path, body=body, headers=h)
    try:
        return st, hd, json.loads(data)
    except ValueError:
        return st, hd, data


def tail():
    r = run("--home", home, "events", "tail", "--from", "0", "--json")
    return [json.loads(x)["event"] for x in r.stdout.splitlines() if x.strip()]


# ---- POST /api/v1/events ---------------------------------------------------------------------
st, hd, d = post("/api/v1/events", {"user": "1", "item": "1", "type": "click",
                                    "request_id": "r-1", "experiment": "e", "variant": "v",
                                    "time_ms": 1700000000123})
t.check("one event -> 200 accepted 1", st == 200 and d["accepted"] == 1 and
        d["rejected"] == 0 and d["errors"] == [] and d["request_id"] == hd.get("x-request-id"),
        (st, d))
t.check("POST events has CORS", hd.get("access-control-allow-origin") == "*", hd)
lines = "\n".join([
    json.dumps({"user": "2", "item": "50", "type": "rating", "value": 4.5, "time": 1700000001}),
    "",
    json.dumps({"user": "", "item": "1", "type": "view"}),
    "{not json",
    json.dumps({"user": "3", "item": "60", "type": "add_to_cart", "context": {"page": "home"}}),
    json.dumps({"user": "3", "item": "60", "type": "teleport"}),
]) + "\n"
st, hd, d = post("/api/v1/events", lines, {"Content-Type": "application/x-ndjson"})
errs = {(e["line"], e["code"]) for e in d.get("errors", [])}
t.check("JSON lines: valid lines appended, per-line errors",
        st == 200 and d["accepted"] == 2 and d["rejected"] == 3 and
        errs == {(3, "invalid_event"), (4, "invalid_json"), (6, "invalid_event")}, d)
t.check("per-line errors name the field", any("user" in e["message"] and e["line"] == 3
                                              for e in d["errors"]) and
        any("teleport" in e["message"] for e in d["errors"]), d["errors"])
st, hd, d = post("/api/v1/events", [{"user": "4", "item": "70", "type": "like"}, 5,
                                    {"user": "4", "item": "71", "type": "purchase",
                                     "value": 9.99}])
t.check("array: valid ones appended, index of the bad one", st == 200 and d["accepted"] == 2 and
        d["errors"] == [{"index": 1, "code": "invalid_event", "message": "not a JSON object"}], d)
st, hd, d = post("/api/v1/events?strict=1", "\n".join([
    json.dumps({"user": "5", "item": "80", "type": "view"}),
    json.dumps({"user": "5", "type": "view"})]))
t.check("?strict=1 with a bad line -> 400, nothing appended",
        st == 400 and d["error"]["code"] == "invalid_event" and d["accepted"] == 0 and
        d["errors"][0]["line"] == 2, d)
for body, code in [("", "invalid_body"), ("[]", "invalid_body"), ("{\"user\": ", "invalid_event"),
                   ("{\"user\":\"1\",\"item\":\"1\",\"type\":\"click\",\"bogus\":1}",
                    "invalid_event"), ("42", "invalid_event")]:
    st, hd, data = srv.request("POST", "/api/v1/events", body=body)
    t.check("POST events %r -> 400 %s" % (body[:30], code),
            st == 400 and is_error_json(data, code), (st, data[:300]))
st, hd, data = srv.request("POST", "/api/v1/events?strict=maybe", body="{}")
t.check("bad strict parameter -> 400", st == 400 and is_error_json(data, "invalid_parameter"), st)
many = "".join(json.dumps({"user": "9", "item": str(i), "type": "view"}) + "\n"
               for i in range(10001))
st, hd, data = srv.request("POST", "/api/v1/events", body=many)
t.check("10001 events -> 413 too_many_events", st == 413 and
        is_error_json(data, "too_many_events"), (st, data[:200]))
reply = srv.raw(b"POST /api/v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 1048586\r\n\r\n" + b"x" * 1000)
t.check("a body over serve.max_body (1 MiB) -> 413 before it is read",
        reply.startswith(b"HTTP/1.1 413") and b"payload_too_large" in reply, reply[:200])
st, hd, data = srv.request("GET", "/api/v1/events")
t.check("GET events -> 405", st == 405 and is_error_json(data), st)
big = "".join(json.dumps({"user": "7", "item": str(i), "type": "view", "time_ms": i})
              + "\n" for i in range(5000))
st, hd, d = post("/api/v1/events", big)
t.check("a batch of 5000 events -> 200", st == 200 and d["accepted"] == 5000, d)

evs = tail()
mine = [e for e in evs if e["type"] != "impression"]
t.check("the log holds exactly the accepted events (1 + 2 + 2 + 5000)", len(mine) == 5005,
        len(mine))
e1 = [e for e in mine if e["user"] == "1" and e["item"] == "1"]
t.check("fields survive: request id, experiment, variant, time",
        len(e1) == 1 and e1[0]["request_id"] == "r-1" and e1[0]["experiment"] == "e" and
        e1[0]["variant"] == "v" and e1[0]["time_ms"] == 1700000000123, e1)
e2 = [e for e in mine if e["user"] == "2"]
e3 = [e for e in mine if e["user"] == "3"]
t.check("rating value and seconds time; custom type with context",
        e2 and e2[0]["value"] == 4.5 and e2[0]["time_ms"] == 1700000001000 and
        e3 and e3[0]["type"] == "add_to_cart" and e3[0]["context"] == {"page": "home"},
        (e2, e3))
t.check("strict rejection appended nothing", not [e for e in mine if e["user"] == "5"], None)
seven = [e["time_ms"] for e in mine if e["user"] == "7"]
t.check("one user's batch keeps its order in the log", seven == list(range(5000)), seven[:5])
st, hd, body = srv.get("/metrics")
text = body.decode()
t.check("/metrics counts ingested events (rejected: 3 lines, 1 array entry, 1 strict, 3 bodies)",
        'junco_events_ingested_total{result="accepted"} 5005' in text and
        'junco_events_ingested_total{result="rejected"} 8' in text, None)

# ---- POST /api/v1/items, /api/v1/users ----------------------------------------------------------
st, hd, d = post("/api/v1/items", {"id": "900001", "title": "Zorblax Rising, The (2030)", "year": 2030,
                                   "genres": ["Drama", "Space Opera"],
                                   "attributes": {"imdbId": "0000001", "tmdbId": 42}})
t.check("POST items: a new item -> 200 created", st == 200 and d["created"] == 1 and
        d["updated"] == 0 and d["records"] == [{"id": "900001", "created": True}], d)
v1 = d["snapshot_version"]
st, hd, d = srv.json("/api/v1/items/900001")
t.check("items/{id} serves it at once", st == 200 and d["title"] == "Zorblax Rising, The (2030)" and
        d["year"] == 2030 and d["genres"] == ["Drama", "Space Opera"] and
        d["imdbId"] == "0000001" and d["tmdbId"] == "42" and d["rating"]["count"] == 0 and
        d["overlay"] is True and d["attributes"] == {"imdbId": "0000001", "tmdbId": "42"}, d)
st, hd, d = srv.json("/getmovie?id=900001")
t.check("/getmovie serves it (reference shape)", st == 200 and d["movieId"] == 900001 and
        d["releaseYear"] == 2030 and d["ratingNumber"] == 0 and d["topRatings"] == [], d)
st, hd, d = srv.json("/api/v1/items?q=ZORBLAX&n=5")
t.check("title search finds it", st == 200 and [x["id"] for x in d["items"]] == ["900001"], d)
st, hd, d = srv.json("/api/v1/genres")
t.check("the new genre is listed", {"name": "Space Opera", "items": 1} in d["genres"], d)
st, hd, d = srv.json("/getrecommendation?genre=Space%20Opera&size=5")
t.check("/getrecommendation by the new genre", st == 200 and [m["movieId"] for m in d] == [900001],
        d)
st, hd, d = srv.json("/api/v1/items?sort=year&n=1")
t.check("newest first by year", d["items"][0]["id"] == "900001", d)
st, hd, d = srv.json("/api/v1/items/900001/similar?n=5")
t.check("similar items of the new item share its genre", st == 200 and len(d["items"]) == 5 and
        all("Drama" in x["item"]["genres"] for x in d["items"]), d)

st, hd, d = post("/api/v1/items", [{"id": "1", "title": "Toy Story (Remastered) (1995)"},
                                   {"id": "900001", "attributes": {"tmdbId": None}}])
t.check("update a catalog item and the new one -> updated 2", st == 200 and d["created"] == 0 and
        d["updated"] == 2 and d["snapshot_version"] == v1 + 1, d)
st, hd, d = srv.json("/api/v1/items/1")
t.check("a partial update keeps the other fields", d["title"] == "Toy Story (Remastered) (1995)"
        and d["year"] == 1995 and d["rating"]["count"] == 215 and
        d["genres"][0] == "Adventure" and d["imdbId"] == "0114709", d)
st, hd, d = srv.json("/api/v1/items/900001")
t.check("an attribute set to null is cleared", d["tmdbId"] is None and
        d["attributes"] == {"imdbId": "0000001"}, d)
st, hd, d = srv.json("/getuser?id=1")
t.check("histories show the updated title",
        any(r["rating"]["movieId"] == 1 for r in d["ratings"]), None)

st, hd, d = post("/api/v1/users", [{"id": "new-user", "attributes": {"age": 31, "city": "Oslo"}},
                                   {"id": "1", "attributes": {"segment": "vip"}}])
t.check("POST users: one new, one catalog user", st == 200 and d["created"] == 1 and
        d["updated"] == 1, d)
st, hd, d = srv.json("/api/v1/users/new-user")
t.check("users/{id}: the new user, no history", st == 200 and d["interactions"] == 0 and
        d["attributes"] == {"age": "31", "city": "Oslo"} and d["overlay"] is True and
        d["history"]["items"] == [], d)
st, hd, d = srv.json("/api/v1/users/1?limit=1")
t.check("a catalog user keeps its history, gains the attribute",
        d["interactions"] == 232 and d["attributes"] == {"segment": "vip"}, d)
st, hd, d = srv.json("/api/v1/users/new-user/recommendations?n=10&explain=1")
t.check("recommendations for the new user: cold start, only the popular channel", st == 200 and
        len(d["items"]) == 10 and
        {c["name"] for x in d["items"] for c in x["explain"]["channels"]} == {"popular"}, d)
st, hd, d = srv.json("/getrecforyou?id=new-user&size=3")
t.check("/getrecforyou for the new user", st == 200 and len(d) == 3, d)

bad_bodies = [
    ("/api/v1/items", {"id": "x1"}, 400, "invalid_body", "title: required for a new item"),
    ("/api/v1/items", {"id": "x1", "title": 5}, 400, "invalid_body", "title: not a string"),
    ("/api/v1/items", [{"id": "x2", "title": "ok"}, {"id": "x3", "year": "1999", "title": "t"}],
     400, "invalid_body", "records[1] (id 'x3'): year"),
    ("/api/v1/items", {"id": "x1", "title": "t", "colour": "red"}, 400, "invalid_body",
     "colour: unknown field"),
    ("/api/v1/items", "{\"id\": ", 400, "invalid_json", "malformed JSON"),
    ("/api/v1/items", "", 400, "invalid_body", "empty body"),
    ("/api/v1/users", {"id": "u", "title": "x"}, 400, "invalid_body", "unknown field"),
    ("/api/v1/users", [{"id": "u%d" % i} for i in range(1001)], 400, "invalid_body",
     "at most 1000"),
]
for path, body, status, code, msg in bad_bodies:
    st, hd, data = srv.request("POST", path, body=body if isinstance(body, str) else
                               json.dumps(body))
    ok = st == status and is_error_json(data, code) and msg in json.loads(data)["error"]["message"]
    t.check("%s %s -> %d %s" % (path, (body if isinstance(body, str) else json.dumps(body))[:40],
                                status, code), ok, (st, data[:300]))
st, hd, d = srv.json("/api/v1/items/x2")
t.check("a rejected batch changes nothing (x2 of the bad batch is absent)", st == 404, d)
st, hd, d = srv.json("/readyz")
t.check("/readyz counts the overlay", d["components"]["overlay"] == {"items": 2, "users": 2}, d)
st, hd, body = srv.get("/metrics")
text = body.decode()
t.check("/metrics: overlay entries and upserts",
        'junco_overlay_entries{kind="item"} 2' in text and
        'junco_overlay_upserts_total{kind="item",result="created"} 1' in text and
        'junco_overlay_upserts_total{kind="item",result="updated"} 2' in text, None)
t.check("stop -> exit 0", srv.stop() == 0, srv.stderr_text())

# ---- persistence ---------------------------------------------------------------------------
ov = os.path.join(home, "overlay", "catalog.jov")
t.check("the overlay file exists", os.path.exists(ov), ov)
srv = Server(home, "--set", "events.custom_types=add_to_cart")
st, hd, d = srv.json("/api/v1/items/900001")
st2, hd2, d2 = srv.json("/api/v1/users/new-user")
st3, hd3, d3 = srv.json("/api/v1/items/1")
t.check("a restart keeps the upserts", st == 200 and d["title"] == "Zorblax Rising, The (2030)" and
        d["tmdbId"] is None and st2 == 200 and d2["attributes"]["city"] == "Oslo" and
        d3["title"] == "Toy Story (Remastered) (1995)", (d, d2, d3))
st, hd, d = post("/api/v1/admin/reload", {})
st, hd, d = srv.json("/api/v1/items/900001")
t.check("a catalog reload keeps the overlay", st == 200 and d["year"] == 2030, d)
srv.stop()
with open(ov, "r+b") as f:
    f.seek(40)
    b = f.read(1)
    f.seek(40)
    f.write(bytes([b[0] ^ 0x20]))
r = run("--home", home, "serve", "--port", "0")
t.check("a corrupt overlay file -> exit 1 naming it", r.returncode == 1 and
        "catalog.jov" in r.stderr and "checksum" in r.stderr, r.stderr)
os.remove(ov)
srv = Server(home, "--set", "serve.overlay_max=0")
st, hd, data = srv.request("POST", "/api/v1/items", body=json.dumps({"id": "z", "title": "z"}))
t.check("serve.overlay_max=0: upserts -> 403", st == 403 and
        is_error_json(data, "upserts_disabled"), (st, data))
srv.stop()

# ---- API key off loopback --------------------------------------------------------------------
srv = Server(home, "--bind", "0.0.0.0")
for path, body in [("/api/v1/events", {"user": "1", "item": "1", "type": "click"}),
                   ("/api/v1/items", {"id": "k", "title": "k"}),
                   ("/api/v1/users", {"id": "k"})]:
    st, hd, data = srv.request("POST", path, body=json.dumps(body))
    t.check("off loopback without serve.api_key: POST %s -> 403" % path,
            st == 403 and is_error_json(data, "forbidden"), (st, data))
srv.stop()
srv = Server(home, "--bind", "0.0.0.0", "--set", "serve.api_key=k3y")
for path, body in [("/api/v1/events", {"user": "1", "item": "1", "type": "click"}),
                   ("/api/v1/items", {"id": "k", "title": "k"}),
                   ("/api/v1/users", {"id": "k"})]:
    st, hd, data = srv.request("POST", path, body=json.dumps(body))
    st2, hd2, data2 = srv.request("POST", path, body=json.dumps(body),
                                  headers={"X-API-Key": "k3y"})
    t.check("with serve.api_key: POST %s -> 401 without, 200 with the key" % path,
            st == 401 and is_error_json(data, "unauthorized") and st2 == 200, (st, st2, data2))
t.check("stop -> exit 0", srv.stop() == 0, srv.stderr_text())
t.finish()
