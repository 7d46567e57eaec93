#!/usr/bin/python3
"""compare.py JUNCO.csv PEER.csv - checks that two course-format sample CSVs
(junco's `features --export csv` and pandas_features.py --csv) hold the same
rows in the same order with the same values: ids, genres and integers
exactly; two-decimal columns within 0.011 (the two sides round float32 and
float64 values, which can differ at a half-cent boundary). Prints a JSON
summary; exit status 1 on any mismatch."""
import csv
import json
import sys

DECIMAL = {"movieAvgRating", "movieRatingStddev", "userReleaseYearStddev", "userAvgRating",
           "userRatingStddev"}


def main():
    a = csv.reader(open(sys.argv[1], newline=""))
    b = csv.reader(open(sys.argv[2], newline=""))
    ha, hb = next(a), next(b)
    if ha != hb:
        print(json.dumps({"ok": False, "error": "headers differ"}))
        return 1
    bad = {h: 0 for h in ha}
    first = {}
    rows = 0
    for ra, rb in zip(a, b):
        rows += 1
        for h, x, y in zip(ha, ra, rb):
            if h in DECIMAL:
                same = abs(float(x) - float(y)) <= 0.011
            elif h == "userAvgReleaseYear":  # integer part of a mean: allow the float edge
                same = abs(int(x) - int(y)) <= 1
            else:
                same = x == y
            if not same:
                bad[h] += 1
                first.setdefault(h, (rows, x, y))
    extra = sum(1 for _ in a) + sum(1 for _ in b)
    ok = extra == 0 and not any(bad.values())
    print(json.dumps({"ok": ok, "rows": rows, "extra_rows": extra,
                      "mismatches": {h: n for h, n in bad.items() if n},
                      "first": {h: list(v) for h, v in first.items()}}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
