#!/usr/bin/python3
"""Checks a junco evaluation report: report.html must be well-formed XML
(junco writes XHTML-compatible HTML5), self-contained (no scripts, no
stylesheets or images from elsewhere: the only URLs allowed are XML
namespace names) and contain one section per protocol of results.json with
its figures; results.json must say which protocols are sampled.
Standard library only (runs without NumPy). Usage: check_html.py DIR
Exit 0 when everything holds, 1 with the reasons otherwise."""
import json
import os
import re
import sys
import xml.etree.ElementTree as ET

d = sys.argv[1]
errors = []
html_path = os.path.join(d, "report.html")
text = open(html_path, encoding="utf-8").read()
try:
    root = ET.fromstring(text.split("\n", 1)[1] if text.startswith("<!DOCTYPE") else text)
except ET.ParseError as e:
    print("report.html is not well-formed: %s" % e)
    sys.exit(1)
ns = {"h": "http://www.w3.org/1999/xhtml", "s": "http://www.w3.org/2000/svg"}
for tag in ("script", "link", "img", "iframe", "object", "embed"):
    if root.findall(".//h:%s" % tag, ns):
        errors.append("report.html contains <%s>" % tag)
for el in root.iter():
    for k, v in el.attrib.items():
        if k.endswith("src") or (k.endswith("href") and not v.startswith("#")):
            errors.append("external reference %s=%r" % (k, v))
for url in re.findall(r"(?:https?:)?//[A-Za-z0-9.-]+[^\s\"'<>)]*", text):
    if not url.startswith(("http://www.w3.org/2000/svg", "http://www.w3.org/1999/xhtml")):
        errors.append("URL in report: %s" % url)
if "url(" in text.replace("url(#", ""):
    errors.append("CSS url() other than an in-document fragment")
res = json.load(open(os.path.join(d, "results.json")))
if res.get("format") != "junco-eval-results":
    errors.append("results.json: wrong format %r" % res.get("format"))
sections = {s.get("id"): s for s in root.iter("{%s}section" % ns["h"])}
n_svg = len(root.findall(".//s:svg", ns))
ids = [e.get("id") for e in root.iter() if e.get("id")]
if len(ids) != len(set(ids)):
    errors.append("duplicate element ids")
for p in res["protocols"]:
    sec = sections.get("proto-" + p["name"])
    if sec is None:
        errors.append("no section for protocol %s" % p["name"])
        continue
    body = ET.tostring(sec, encoding="unicode")
    if p["sampled"] != (p["name"] == "loo-sampled"):
        errors.append("protocol %s: sampled flag %s" % (p["name"], p["sampled"]))
    if p["sampled"] and "SAMPLED" not in body:
        errors.append("sampled protocol %s is not labelled SAMPLED" % p["name"])
    if not p["sampled"] and "(sampled)" in body:
        errors.append("full-ranking protocol %s carries sampled labels" % p["name"])
    if len(sec.findall(".//s:svg", ns)) < 2:
        errors.append("protocol %s has fewer than 2 figures" % p["name"])
    for m in p["models"]:
        if m["model"] not in body:
            errors.append("model %s missing from section %s" % (m["model"], p["name"]))
if "more" not in sections:
    errors.append("no 'more' section for ROC/PR and training curves")
print("report %s: %d protocols, %d svg figures, %d bytes" % (d, len(res["protocols"]), n_svg,
                                                             len(text)))
for e in errors:
    print("ERROR " + e)
sys.exit(1 if errors else 0)
