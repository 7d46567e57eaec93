#!/usr/bin/python3
"""pandas_features.py - the peer of `junco features`: the same reference
columns, point-in-time, computed with pandas + NumPy, from the same
MovieLens-format files (movies.csv, ratings.csv).

Semantics match junco's (docs/FEATURES.md):
  * events are ordered by user (first appearance), time, item (movies.csv
    order); a row sees only events with a strictly smaller timestamp (equal
    timestamps never see each other), and rows with fewer than 2 earlier
    events of their user are dropped;
  * label = rating >= 3.5; user aggregates over the last 100 earlier events;
    ratedMovie1..5 = newest positives of that window; userGenre1..5 = genres
    by count among the window's positives, ties by name; userHistory = the
    20 newest positives of any age; item count/mean/std over the item's
    earlier events; sample standard deviations (0 below two values);
    unknown release years count as 1990;
  * global temporal split: train t < sorted_times[floor(n*0.8)] <= valid <
    sorted_times[floor(n*0.9)] <= test.
The implementation is written to be fast (vectorised NumPy on prefix sums,
genre counts in user-aligned chunks), not as a naive groupby/apply, so the
comparison is against the peer at its best.

Output: one .npy file per column and split in OUT (binary, like junco's
sample files), and with --csv DIR the course's 27-column CSV per split, for
checking the values against `junco features --export csv`.
Timings go to stdout as one JSON line.
"""
import argparse
import json
import os
import re
import sys
import time

import numpy as np
import pandas as pd

WINDOW = 100
HISTORY = 20
MIN_HISTORY = 2
THRESHOLD = 3.5
MISSING_YEAR = 1990
CHUNK_ROWS = 250_000

YEAR_RE = re.compile(r"\((\d{4})(?:\)|-|\u2013)[^(]*$")


def release_year(title):
    t = str(title).rstrip(" \t")
    if len(t) < 6 or not t.endswith(")"):
        return 0
    m = YEAR_RE.search(t)
    if not m or t.rfind("(") != m.start():
        return 0
    y = int(m.group(1))
    return y if 1800 <= y <= 2200 else 0


def load(src):
    # MovieLens ids are integers: read them as int64 (strings would cost ~100
    # bytes per value); fall back to strings for other data
    try:
        movies = pd.read_csv(os.path.join(src, "movies.csv"), dtype={"movieId": np.int64},
                             keep_default_na=False)
        ratings = pd.read_csv(os.path.join(src, "ratings.csv"),
                              dtype={"userId": np.int64, "movieId": np.int64,
                                     "rating": np.float32, "timestamp": np.int64})
    except ValueError:
        movies = pd.read_csv(os.path.join(src, "movies.csv"), dtype={"movieId": str},
                             keep_default_na=False)
        ratings = pd.read_csv(os.path.join(src, "ratings.csv"),
                              dtype={"userId": str, "movieId": str, "rating": np.float32,
                                     "timestamp": np.int64})
    return movies, ratings


def compute(movies, ratings):
    # ---- ids: users by first appearance, items in movies.csv order then new ones
    u_codes, u_names = pd.factorize(ratings["userId"], sort=False)
    all_items = pd.concat([movies["movieId"], ratings["movieId"]], ignore_index=True)
    i_codes_all, i_names = pd.factorize(all_items, sort=False)
    i_codes = i_codes_all[len(movies):].astype(np.int32)
    n_items = len(i_names)

    # ---- item attributes: year, genres (source order, duplicates dropped)
    years = np.full(n_items, MISSING_YEAR, dtype=np.int64)
    y = np.array([release_year(t) for t in movies["title"]], dtype=np.int64)
    y[y == 0] = MISSING_YEAR
    years[:len(movies)] = y
    genre_lists = [[] for _ in range(n_items)]
    for k, g in enumerate(movies["genres"]):
        if g and g != "(no genres listed)":
            seen = []
            for name in g.split("|"):
                if name not in seen:
                    seen.append(name)
            genre_lists[k] = seen
    genre_names = sorted({g for gl in genre_lists for g in gl})
    gid = {g: k for k, g in enumerate(genre_names)}  # ids in name order = tie order
    n_genres = len(genre_names)
    first3 = np.full((n_items, 3), -1, dtype=np.int32)
    onehot = np.zeros((n_items, max(n_genres, 1)), dtype=np.int32)
    for k, gl in enumerate(genre_lists):
        for j, g in enumerate(gl[:3]):
            first3[k, j] = gid[g]
        for g in gl:
            onehot[k, gid[g]] = 1

    # ---- events in catalog order: user, time, item
    user = u_codes.astype(np.int32)
    del u_codes, i_codes_all, all_items
    ts = ratings["timestamp"].to_numpy()
    rating = ratings["rating"].to_numpy().astype(np.float64)
    order = np.lexsort((i_codes, ts, user))
    user, item, ts, rating = user[order], i_codes[order], ts[order], rating[order]
    del order, i_codes
    n = len(user)
    label = (rating >= THRESHOLD).astype(np.int8)
    idx = np.arange(n, dtype=np.int64)

    # ---- item side: state before each (item, time) group
    o2 = np.lexsort((user, ts, item))
    it_item, it_ts, it_r = item[o2], ts[o2], rating[o2]
    new_item = np.empty(n, dtype=bool)
    new_item[0] = True
    new_item[1:] = it_item[1:] != it_item[:-1]
    new_grp = new_item.copy()
    new_grp[1:] |= it_ts[1:] != it_ts[:-1]
    istart = np.maximum.accumulate(np.where(new_item, idx, 0))
    gstart = np.maximum.accumulate(np.where(new_grp, idx, 0))
    s1 = np.concatenate(([0.0], np.cumsum(it_r)))
    s2 = np.concatenate(([0.0], np.cumsum(it_r * it_r)))
    cnt = gstart - istart
    sm = s1[gstart] - s1[istart]
    sq = s2[gstart] - s2[istart]
    with np.errstate(invalid="ignore", divide="ignore"):
        avg = np.where(cnt > 0, sm / np.maximum(cnt, 1), 0.0)
        var = np.where(cnt > 1, (sq - sm * sm / np.maximum(cnt, 1)) / np.maximum(cnt - 1, 1), 0.0)
    m_count = np.empty(n, dtype=np.float32)
    m_avg = np.empty(n, dtype=np.float32)
    m_std = np.empty(n, dtype=np.float32)
    m_count[o2] = cnt
    m_avg[o2] = avg
    m_std[o2] = np.sqrt(np.maximum(var, 0.0))
    del o2, it_item, it_ts, it_r, new_item, new_grp, istart, gstart, s1, s2, cnt, sm, sq, avg, var

    # ---- user side
    new_user = np.empty(n, dtype=bool)
    new_user[0] = True
    new_user[1:] = user[1:] != user[:-1]
    new_grp = new_user.copy()
    new_grp[1:] |= ts[1:] != ts[:-1]
    ustart = np.maximum.accumulate(np.where(new_user, idx, 0))
    g = np.maximum.accumulate(np.where(new_grp, idx, 0))
    del idx
    earlier = g - ustart
    lo = np.maximum(ustart, g - WINDOW)
    wn = g - lo
    r1 = np.concatenate(([0.0], np.cumsum(rating)))
    r2 = np.concatenate(([0.0], np.cumsum(rating * rating)))
    yr = years[item]
    y1 = np.concatenate(([0], np.cumsum(yr)))
    y2 = np.concatenate(([0], np.cumsum(yr * yr)))
    wnf = np.maximum(wn, 1).astype(np.float64)
    rs, rq = r1[g] - r1[lo], r2[g] - r2[lo]
    ys, yq = (y1[g] - y1[lo]).astype(np.float64), (y2[g] - y2[lo]).astype(np.float64)
    u_avg = np.where(wn > 0, rs / wnf, 0.0)
    u_std = np.where(wn > 1, np.sqrt(np.maximum((rq - rs * rs / wnf) / np.maximum(wn - 1, 1), 0)), 0.0)
    u_avg_year = np.where(wn > 0, ys / wnf, 0.0)
    u_std_year = np.where(wn > 1, np.sqrt(np.maximum((yq - ys * ys / wnf) / np.maximum(wn - 1, 1), 0)), 0.0)
    del r1, r2, y1, y2, rs, rq, ys, yq, wnf, new_grp, yr
    u_avg, u_std = u_avg.astype(np.float32), u_std.astype(np.float32)
    u_avg_year, u_std_year = u_avg_year.astype(np.float32), u_std_year.astype(np.float32)

    # positives: k-th newest before g (window-bounded or history)
    pos_idx = np.flatnonzero(label)
    cp = np.concatenate(([0], np.cumsum(label, dtype=np.int64)))
    c_g, c_lo, c_u = cp[g], cp[lo], cp[ustart]
    rated = np.full((n, 5), -1, dtype=np.int32)
    for k in range(1, 6):
        ok = c_g - k >= c_lo
        rated[ok, k - 1] = item[pos_idx[c_g[ok] - k]]
    hist = np.full((n, HISTORY), -1, dtype=np.int32)
    for k in range(1, HISTORY + 1):
        ok = c_g - k >= c_u
        hist[ok, k - 1] = item[pos_idx[c_g[ok] - k]]
    del pos_idx, cp, c_g, c_lo, c_u

    # top genres among the window's positives, in user-aligned chunks
    top = np.full((n, 5), -1, dtype=np.int32)
    starts = np.flatnonzero(new_user)
    a = 0
    while a < n:
        k = np.searchsorted(starts, a + CHUNK_ROWS, side="left")
        b = int(starts[k]) if a + CHUNK_ROWS < n and k < len(starts) else n
        m = onehot[item[a:b]] * label[a:b, None].astype(np.int32)
        cg = np.zeros((b - a + 1, m.shape[1]), dtype=np.int32)
        np.cumsum(m, axis=0, out=cg[1:])
        w = cg[g[a:b] - a] - cg[lo[a:b] - a]
        # count desc, then name (genre ids are in name order)
        key = w * 64 + (63 - np.arange(m.shape[1], dtype=np.int32))[None, :]
        key[w == 0] = -1
        k5 = min(5, m.shape[1])
        best = np.argsort(-key, axis=1, kind="stable")[:, :k5]
        chosen = np.take_along_axis(key, best, axis=1)
        top[a:b, :k5] = np.where(chosen >= 0, best, -1)
        a = b
    del onehot

    hour = ((ts % 86400) // 3600).astype(np.int8)
    weekday = (((ts // 86400) + 3) % 7).astype(np.int8)

    cols = {
        "user": user, "item": item, "time": ts, "rating": rating.astype(np.float32),
        "label": label.astype(np.int8), "releaseYear": years[item].astype(np.float32),
        "movieGenre": first3[item], "movieRatingCount": m_count, "movieAvgRating": m_avg,
        "movieRatingStddev": m_std, "userRatedMovie": rated,
        "userRatingCount": wn.astype(np.float32), "userAvgReleaseYear": u_avg_year.astype(np.float32),
        "userReleaseYearStddev": u_std_year.astype(np.float32),
        "userAvgRating": u_avg.astype(np.float32), "userRatingStddev": u_std.astype(np.float32),
        "userGenre": top, "userHistory": hist, "hour": hour, "weekday": weekday,
    }
    keep = earlier >= MIN_HISTORY
    # global temporal split over all events
    st = np.sort(ts)
    cut_valid = st[int(np.floor(n * 0.8))]
    cut_test = st[int(np.floor(n * 0.9))]
    split = np.where(ts < cut_valid, 0, np.where(ts < cut_test, 1, 2))
    meta = {"u_names": u_names, "i_names": i_names, "genre_names": genre_names}
    return cols, keep, split, meta


def write_npy(cols, keep, split, out, durable):
    os.makedirs(out, exist_ok=True)
    counts = {}
    for s, name in enumerate(("train", "valid", "test")):
        sel = keep & (split == s)
        counts[name] = int(sel.sum())
        for c, v in cols.items():
            path = os.path.join(out, f"{name}.{c}.npy")
            with open(path, "wb") as f:
                np.save(f, v[sel])
                if durable:  # like junco's sample files: on disk when the job ends
                    f.flush()
                    os.fsync(f.fileno())
    if durable:
        fd = os.open(out, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
    return counts


def fmt_rating(v):
    return "%.1f" % v if float(v).is_integer() else "%.7g" % v


def write_csv(cols, keep, split, meta, out):
    os.makedirs(out, exist_ok=True)
    inames, unames, gnames = meta["i_names"], meta["u_names"], meta["genre_names"]
    ident = lambda k: "" if k < 0 else str(inames[k])
    gname = lambda k: "" if k < 0 else gnames[k]
    header = ("movieId,userId,rating,timestamp,label,releaseYear,movieGenre1,movieGenre2,"
              "movieGenre3,movieRatingCount,movieAvgRating,movieRatingStddev,userRatedMovie1,"
              "userRatedMovie2,userRatedMovie3,userRatedMovie4,userRatedMovie5,userRatingCount,"
              "userAvgReleaseYear,userReleaseYearStddev,userAvgRating,userRatingStddev,"
              "userGenre1,userGenre2,userGenre3,userGenre4,userGenre5\n")
    for s, name in enumerate(("train", "valid", "test")):
        rows = np.flatnonzero(keep & (split == s))
        with open(os.path.join(out, name + ".csv"), "w") as f:
            f.write(header)
            for i in rows:
                c = cols
                f.write(",".join([
                    ident(c["item"][i]), str(unames[c["user"][i]]), fmt_rating(c["rating"][i]),
                    str(c["time"][i]), str(int(c["label"][i])), str(int(c["releaseYear"][i])),
                    *[gname(x) for x in c["movieGenre"][i]],
                    str(int(c["movieRatingCount"][i])), "%.2f" % c["movieAvgRating"][i],
                    "%.2f" % c["movieRatingStddev"][i], *[ident(x) for x in c["userRatedMovie"][i]],
                    str(int(c["userRatingCount"][i])), str(int(c["userAvgReleaseYear"][i])),
                    "%.2f" % c["userReleaseYearStddev"][i], "%.2f" % c["userAvgRating"][i],
                    "%.2f" % c["userRatingStddev"][i], *[gname(x) for x in c["userGenre"][i]],
                ]) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("src", help="directory with movies.csv and ratings.csv")
    ap.add_argument("out", help="output directory for the .npy columns")
    ap.add_argument("--csv", help="also write the course CSV per split into this directory")
    ap.add_argument("--fsync", action="store_true",
                    help="make the .npy files durable (fsync), as junco does with its samples")
    a = ap.parse_args()
    t0 = time.perf_counter()
    movies, ratings = load(a.src)
    t1 = time.perf_counter()
    cols, keep, split, meta = compute(movies, ratings)
    t2 = time.perf_counter()
    counts = write_npy(cols, keep, split, a.out, a.fsync)
    t3 = time.perf_counter()
    if a.csv:
        write_csv(cols, keep, split, meta, a.csv)
    print(json.dumps({"impl": "pandas", "fsync": a.fsync, "events": int(len(ratings)), "rows": counts,
                      "read_s": round(t1 - t0, 3), "compute_s": round(t2 - t1, 3),
                      "write_s": round(t3 - t2, 3), "total_s": round(t3 - t0, 3),
                      "pandas": pd.__version__, "numpy": np.__version__}))


if __name__ == "__main__":
    sys.exit(main())
