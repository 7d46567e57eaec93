/*
 * app.js - the junco web UI: plain JavaScript over the REST API (/api/v1).
 *
 * Every page is a static HTML file whose <body data-page="..."> selects one
 * render function below. Data is always inserted with textContent or DOM
 * properties, never as HTML, so titles and tags from the catalog cannot
 * inject markup. No external scripts, fonts or images: movie cards are
 * typographic (a colour band per genre, title, year, genres, rating).
 */
"use strict";

const API = "/api/v1";

/* ---- helpers ----------------------------------------------------------- */

function qs(name) {
  return new URLSearchParams(location.search).get(name);
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

async function api(path) {
  const r = await fetch(API + path, { headers: { Accept: "application/json" } });
  let body = null;
  try { body = await r.json(); } catch (e) { /* not JSON */ }
  if (!r.ok) {
    const msg = body && body.error ? body.error.message : r.status + " " + r.statusText;
    const err = new Error(msg);
    err.status = r.status;
    throw err;
  }
  return body;
}

function showError(where, err) {
  where.replaceChildren(el("div", { class: "error", text: "Could not load: " + err.message }));
}

const GENRE_COLORS = {
  Action: "#b91c1c", Adventure: "#c2410c", Animation: "#d97706", Children: "#ca8a04",
  Comedy: "#65a30d", Crime: "#374151", Documentary: "#0f766e", Drama: "#1d4ed8",
  Fantasy: "#7c3aed", "Film-Noir": "#111827", Horror: "#7f1d1d", IMAX: "#0369a1",
  Musical: "#db2777", Mystery: "#4c1d95", Romance: "#e11d48", "Sci-Fi": "#0e7490",
  Thriller: "#9a3412", War: "#57534e", Western: "#a16207",
};

function genreColor(g) {
  if (GENRE_COLORS[g]) return GENRE_COLORS[g];
  let h = 0;
  for (const ch of g || "?") h = (h * 31 + ch.charCodeAt(0)) % 360;
  return "hsl(" + h + ",55%,38%)";
}

/* "Matrix, The (1999)" -> "The Matrix" (for the card band and heading). */
function cleanTitle(t) {
  let s = (t || "").replace(/\s*\(\d{4}\)\s*$/, "");
  const m = s.match(/^(.*), (The|A|An|Les|La|Le|Il|Das|Der|Die|El)$/);
  if (m) s = m[2] + " " + m[1];
  return s;
}

function initials(t) {
  const words = cleanTitle(t).split(/\s+/).filter((w) => /^[\p{L}\p{N}]/u.test(w));
  return words.slice(0, 3).map((w) => w[0].toUpperCase()).join("") || "?";
}

function fmt(x, d) {
  return x === null || x === undefined ? "–" : Number(x).toFixed(d === undefined ? 2 : d);
}

function ratingText(r) {
  if (!r || !r.count) return "no ratings";
  return "★ " + fmt(r.mean, 2) + " · " + r.count + " rating" + (r.count === 1 ? "" : "s");
}

/* One typographic movie card. extra: {position, why (url)} */
function card(item, extra) {
  extra = extra || {};
  const g = item.genres && item.genres.length ? item.genres[0] : "";
  const c = el("a", { class: "card", href: "movie.html?id=" + encodeURIComponent(item.id),
                      "data-item": item.id },
    el("div", { class: "band", style: "background:" + genreColor(g), text: initials(item.title) }),
    el("div", { class: "body" },
      el("div", { class: "title", text: cleanTitle(item.title) }),
      el("div", { class: "meta", text: item.year ? String(item.year) : "year unknown" }),
      el("div", { class: "chips" }, ...(item.genres || []).slice(0, 3).map((x) =>
        el("span", { class: "chip", text: x }))),
      el("div", { class: "rating" }, el("b", { text: ratingText(item.rating) }))));
  if (extra.position) c.append(el("span", { class: "pos", text: "#" + extra.position }));
  if (extra.why) {
    const w = el("span", { class: "why", text: "why?", "data-href": extra.why });
    w.addEventListener("click", (ev) => { ev.preventDefault(); location.href = extra.why; });
    c.append(w);
  }
  return c;
}

function header() {
  const form = el("form", { action: "search.html", method: "get", role: "search" },
    el("input", { type: "search", name: "q", placeholder: "Search titles…", value: qs("q") || "",
                  "aria-label": "Search titles" }),
    el("button", { type: "submit", text: "Search" }));
  const h = el("header", { class: "top" },
    el("a", { class: "brand", href: "./" }, "junco", el("span", { text: "." })),
    el("nav", {}, el("a", { href: "./", text: "Home" }),
      el("a", { href: "genre.html?genre=Drama", text: "Genres" }),
      el("a", { href: "user.html?id=1", text: "User 1" }),
      el("a", { href: "/reports/eval/report.html", text: "Evaluation" })),
    form);
  document.body.prepend(h);
  document.body.append(el("footer", { text: "junco — recall → rank → re-rank, served in C. " +
    "Data: MovieLens." }));
}

/* ---- pages ------------------------------------------------------------- */

async function pageHome(main) {
  main.append(el("h1", { text: "Movies" }),
    el("p", { class: "muted", text: "Best rated (damped mean) per genre, and what everyone watches." }));
  const rows = el("div", { id: "rows" });
  main.append(rows);
  try {
    const [genres, pop] = await Promise.all([api("/genres"), api("/items?sort=popularity&n=14")]);
    const addRow = (title, href, items) => {
      rows.append(el("h2", {}, title, href ? el("a", { class: "more", href, text: "see all →" }) : null),
        el("div", { class: "row", "data-row": title }, ...items.map((i) => card(i))));
    };
    addRow("Popular", "genre.html?sort=popularity", pop.items);
    const top = genres.genres.filter((g) => g.name !== "(no genres listed)").slice(0, 10);
    const lists = await Promise.all(top.map((g) =>
      api("/items?genre=" + encodeURIComponent(g.name) + "&sort=rating&n=14")));
    top.forEach((g, k) => addRow(g.name, "genre.html?genre=" + encodeURIComponent(g.name),
                                 lists[k].items));
  } catch (e) {
    showError(rows, e);
  }
}

async function pageGenre(main) {
  const genre = qs("genre") || "";
  let sort = qs("sort") || "rating";
  let offset = 0;
  const n = 48;
  const title = el("h1", { text: genre || "All movies" });
  const sel = el("select", { "aria-label": "genre" });
  const sortSel = el("select", { "aria-label": "sort" },
    ...["rating", "popularity", "year", "mean"].map((s) =>
      el("option", { value: s, text: "sort: " + s })));
  sortSel.value = sort;
  const grid = el("div", { class: "grid", id: "grid" });
  const more = el("button", { class: "btn secondary", text: "More" });
  const count = el("span", { class: "muted" });
  main.append(title, el("div", { class: "controls" }, sel, sortSel, count), el("p"), grid,
    el("p"), more);
  const go = () => {
    const p = new URLSearchParams();
    if (sel.value) p.set("genre", sel.value);
    p.set("sort", sortSel.value);
    location.search = p.toString();
  };
  sel.addEventListener("change", go);
  sortSel.addEventListener("change", go);
  async function load() {
    try {
      const g = genre ? "&genre=" + encodeURIComponent(genre) : "";
      const d = await api("/items?sort=" + encodeURIComponent(sort) + g + "&n=" + n +
                          "&offset=" + offset);
      d.items.forEach((i) => grid.append(card(i)));
      offset += d.items.length;
      count.textContent = d.total + " movies";
      more.style.display = offset < d.total ? "" : "none";
    } catch (e) {
      showError(grid, e);
    }
  }
  more.addEventListener("click", load);
  try {
    const gs = await api("/genres");
    sel.append(el("option", { value: "", text: "all genres" }),
      ...gs.genres.map((x) => el("option", { value: x.name, text: x.name + " (" + x.items + ")" })));
    sel.value = genre;
  } catch (e) { /* the grid shows errors */ }
  await load();
}

function statBox(k, v) {
  return el("div", { class: "stat" }, el("div", { class: "v", text: v }), el("div", { class: "k", text: k }));
}

async function pageMovie(main) {
  const id = qs("id");
  if (!id) { main.append(el("div", { class: "error", text: "No movie id given." })); return; }
  try {
    const m = await api("/items/" + encodeURIComponent(id));
    document.title = m.title + " — junco";
    const links = el("p", {});
    if (m.links.imdb) links.append(el("a", { href: m.links.imdb, text: "IMDb ↗", rel: "noopener" }), "  ");
    if (m.links.tmdb) links.append(el("a", { href: m.links.tmdb, text: "TMDB ↗", rel: "noopener" }));
    const r = m.rating;
    main.append(
      el("div", { class: "cols" },
        el("div", { class: "panel", id: "details" },
          el("h1", { id: "movie-title", text: m.title }),
          el("div", { class: "chips" }, ...m.genres.map((g) =>
            el("a", { class: "chip", href: "genre.html?genre=" + encodeURIComponent(g), text: g }))),
          el("div", { class: "stats" },
            statBox("year", m.year || "–"), statBox("ratings", String(r.count)),
            statBox("mean rating", fmt(r.mean)), statBox("std. deviation", fmt(r.stddev))),
          el("p", { class: "muted", text: "Damped mean (prior of 10 ratings): " + fmt(r.damped, 3) +
                                          (m.imdbId ? " · imdbId " + m.imdbId : "") +
                                          (m.tmdbId ? " · tmdbId " + m.tmdbId : "") }),
          links),
        el("div", { class: "panel" }, el("h2", { text: "Tags" }),
          m.tags.length ? el("div", {}, ...m.tags.map((t) =>
            el("span", { class: "chip tag", text: t.tag + (t.count > 1 ? " ×" + t.count : "") })))
            : el("p", { class: "muted", text: "No tags." }))));
    const row = el("div", { class: "row", id: "similar" });
    main.append(el("h2", { text: "Similar movies" }), row);
    const s = await api("/items/" + encodeURIComponent(id) + "/similar?n=14");
    s.items.forEach((x) => row.append(card(x.item)));
    if (!s.items.length) row.append(el("p", { class: "muted", text: "No similar movies." }));
    main.append(el("p", { class: "muted", text: "Similarity: " + s.provider +
                                               " (co-occurrence + genre overlap)." }));
  } catch (e) {
    showError(main, e);
  }
}

function dateOf(t) {
  return t ? new Date(t * 1000).toISOString().slice(0, 10) : "–";
}

async function pageUser(main) {
  const id = qs("id") || "1";
  const model = qs("model") || "";
  let histOffset = 0;
  const histLimit = 15;
  try {
    const [u, info] = await Promise.all([api("/users/" + encodeURIComponent(id) + "?limit=0"),
                                        api("/info")]);
    document.title = "User " + id + " — junco";
    const bars = el("div", { class: "bars", id: "genres" });
    const maxShare = u.favourite_genres.length ? u.favourite_genres[0].score : 1;
    u.favourite_genres.slice(0, 8).forEach((g) => bars.append(el("div", { class: "bar" },
      el("span", { text: g.genre }),
      el("div", {}, el("div", { class: "fill", style: "width:" + Math.round(100 * g.score / maxShare) + "%" })),
      el("span", { class: "muted", text: Math.round(100 * g.share) + "% · ★" + fmt(g.mean, 1) }))));
    main.append(el("div", { class: "cols" },
      el("div", { class: "panel" }, el("h1", { id: "user-title", text: "User " + u.id }),
        el("div", { class: "stats" }, statBox("ratings", String(u.interactions)),
          statBox("mean rating", fmt(u.rating.mean)), statBox("lowest / highest",
            fmt(u.rating.min, 1) + " / " + fmt(u.rating.max, 1)),
          statBox("active", dateOf(u.first_time).slice(0, 4) + "–" + dateOf(u.last_time).slice(0, 4)))),
      el("div", { class: "panel" }, el("h2", { text: "Favourite genres" }), bars)));

    /* recommendations with a model selector */
    const sel = el("select", { id: "model", "aria-label": "model" },
      el("option", { value: "", text: "model: scene default" }),
      ...info.models.map((m) => el("option", { value: m.name,
        text: "model: " + m.name + (m.loaded ? "" : " (not loaded)") })));
    sel.value = model;
    sel.addEventListener("change", () => {
      const p = new URLSearchParams(location.search);
      if (sel.value) p.set("model", sel.value); else p.delete("model");
      location.search = p.toString();
    });
    const recRow = el("div", { class: "row", id: "recs" });
    const note = el("div");
    main.append(el("h2", { text: "Recommended for you" }), el("div", { class: "controls" }, sel,
      el("span", { class: "muted", id: "ranker" })), note, recRow);
    const mq = model ? "&model=" + encodeURIComponent(model) : "";
    const rec = await api("/users/" + encodeURIComponent(id) + "/recommendations?n=14" + mq);
    document.getElementById("ranker").textContent = "ranked by " + rec.ranker + " · scene " +
      rec.scene + " · " + rec.candidates + " candidates";
    /* A/B: the variant of every layer the user is in (the first layer's
     * is also in rec.experiment / rec.variant). */
    if (rec.experiments && rec.experiments.length)
      note.append(el("div", { class: "notice ab", id: "variant", "data-experiment": rec.experiment,
                              "data-variant": rec.variant },
        "A/B test: ", ...rec.experiments.flatMap((x, k) => [k ? " · " : null,
          el("b", { text: x.experiment }), " → variant ", el("b", { class: "variant", text: x.variant })])
          .filter((x) => x !== null)));
    if (rec.fallback)
      note.append(el("div", { class: "notice", text: rec.fallback_reason }));
    rec.items.forEach((x) => recRow.append(card(x.item, { position: x.position,
      why: "explain.html?user=" + encodeURIComponent(id) + "&item=" + encodeURIComponent(x.item.id) + mq })));

    /* watched history, most recent first, paginated */
    const tbody = el("tbody", { id: "history" });
    const pos = el("span", { class: "muted" });
    const prev = el("button", { class: "btn secondary", text: "← newer" });
    const next = el("button", { class: "btn secondary", text: "older →" });
    main.append(el("h2", { text: "Watched" }), el("div", { class: "panel" },
      el("table", {}, el("thead", {}, el("tr", {}, el("th", { text: "date" }), el("th", { text: "movie" }),
        el("th", { text: "genres" }), el("th", { text: "rating" }))), tbody),
      el("div", { class: "pager" }, prev, next, pos)));
    async function loadHist() {
      const h = await api("/users/" + encodeURIComponent(id) + "?limit=" + histLimit + "&offset=" + histOffset);
      tbody.replaceChildren(...h.history.items.map((x) => el("tr", {},
        el("td", { text: dateOf(x.time) }),
        el("td", {}, el("a", { href: "movie.html?id=" + encodeURIComponent(x.item.id), text: x.item.title })),
        el("td", { class: "muted", text: x.item.genres.join(", ") }),
        el("td", { text: "★ " + fmt(x.value, 1) }))));
      pos.textContent = (histOffset + 1) + "–" + (histOffset + h.history.items.length) + " of " + h.history.total;
      prev.disabled = histOffset === 0;
      next.disabled = histOffset + histLimit >= h.history.total;
    }
    prev.addEventListener("click", () => { histOffset = Math.max(0, histOffset - histLimit); loadHist(); });
    next.addEventListener("click", () => { histOffset += histLimit; loadHist(); });
    await loadHist();
  } catch (e) {
    showError(main, e);
  }
}

async function pageSearch(main) {
  const q = (qs("q") || "").trim();
  main.append(el("h1", { text: q ? "Search: " + q : "Search" }));
  const grid = el("div", { class: "grid", id: "results" });
  const count = el("p", { class: "muted", id: "count" });
  main.append(count, grid);
  if (!q) { count.textContent = "Type part of a title in the search box."; return; }
  try {
    const d = await api("/items?q=" + encodeURIComponent(q) + "&sort=popularity&n=60");
    count.textContent = d.total + " movie" + (d.total === 1 ? "" : "s") + " match" +
      (d.total > d.items.length ? " (showing " + d.items.length + ")" : "");
    d.items.forEach((i) => grid.append(card(i)));
  } catch (e) {
    showError(grid, e);
  }
}

async function pageExplain(main) {
  const user = qs("user") || "1";
  const item = qs("item");
  const model = qs("model") || "";
  const mq = model ? "&model=" + encodeURIComponent(model) : "";
  try {
    const rec = await api("/users/" + encodeURIComponent(user) + "/recommendations?n=100&explain=1" + mq);
    const hit = rec.items.find((x) => x.item.id === item) || rec.items[0];
    if (!hit) { main.append(el("div", { class: "error", text: "No recommendations for this user." })); return; }
    const ex = hit.explain;
    const chans = el("div", { class: "explain", id: "channels" });
    ex.channels.forEach((c) => chans.append(el("div", { class: "channel" },
      el("b", { text: c.name }),
      el("div", {}, el("div", { class: "fill", style: "width:" + Math.round(100 * Math.min(1, c.score)) + "%" })),
      el("span", { text: fmt(c.score, 3) + " ×" + fmt(c.weight, 1) }))));
    const stages = rec.stages;
    main.append(...[
      el("h1", { text: "Why " + cleanTitle(hit.item.title) + "?" }),
      el("p", { class: "muted", id: "context", text: "For user " + user + " · scene " + rec.scene + " · ranked by " + rec.ranker +
        (rec.experiments && rec.experiments.length ? " · A/B " + rec.experiments.map((x) => x.experiment + " → " + x.variant).join(", ") : "") }),
      rec.fallback ? el("div", { class: "notice", text: rec.fallback_reason }) : null,
      el("div", { class: "cols" },
        el("div", { class: "panel" },
          el("h2", { text: "1. Recall channels that produced it" }), chans,
          el("h2", { text: "2. Scores per stage" }),
          el("table", { id: "stages" }, el("tbody", {},
            el("tr", {}, el("th", { text: "recall (weighted sum)" }), el("td", { text: fmt(ex.recall, 4) })),
            el("tr", {}, el("th", { text: "rank score (" + rec.ranker + ")" }), el("td", { text: fmt(ex.rank, 4) })),
            el("tr", {}, el("th", { text: "position after ranking" }), el("td", { text: String(ex.rank_position) })),
            el("tr", {}, el("th", { text: "re-rank objective" }), el("td", { text: fmt(ex.rerank, 4) })),
            el("tr", {}, el("th", { text: "final position" }), el("td", { text: String(hit.position) }))))),
        el("div", {}, card(hit.item),
          el("div", { class: "panel", style: "margin-top:12px" }, el("h2", { text: "Pipeline" }),
            el("table", {}, el("tbody", {},
              ...stages.recall.map((s) => el("tr", {}, el("th", { text: s.channel }),
                el("td", { text: s.candidates + " / quota " + s.quota }))),
              el("tr", {}, el("th", { text: "re-rankers" }), el("td", { text: stages.rerank.join(", ") + " (diversity " + stages.diversity + ")" })),
              el("tr", {}, el("th", { text: "time recall/rank/rerank (µs)" }), el("td", { text:
                fmt(stages.timing_us.recall, 0) + " / " + fmt(stages.timing_us.rank, 0) + " / " + fmt(stages.timing_us.rerank, 0) })))))))].filter(Boolean));
    if (hit.item.id !== item)
      main.prepend(el("div", { class: "notice", text: "Item " + item + " is not in this user's top 100 now; showing the first recommendation." }));
  } catch (e) {
    showError(main, e);
  }
}

const PAGES = { home: pageHome, genre: pageGenre, movie: pageMovie, user: pageUser,
                search: pageSearch, explain: pageExplain };

document.addEventListener("DOMContentLoaded", () => {
  header();
  const main = document.querySelector("main");
  const f = PAGES[document.body.dataset.page];
  if (f) f(main).finally(() => document.body.setAttribute("data-loaded", "1"));
});
