/* The research desk: topic research and what readers ask, for the publisher's staff. No framework and
 * no build step; the key is asked once and kept in this tab's sessionStorage only, and sent as a bearer
 * token to this service's own API. Every text from posts and readers is set as text, never as HTML. */
(function () {
  "use strict";
  var KEY = "archive-qa-desk-key";
  var $ = function (id) { return document.getElementById(id); };
  var state = { facets: null, research: null };
  var UNITS = { pct: "%", jpy: "円", usd: "ドル", eur: "ユーロ", mm2: "mm²", m2: "m²", gb: "GB", tb: "TB" };

  function el(tag, text, cls) {
    var n = document.createElement(tag);
    if (text != null) n.textContent = text;
    if (cls) n.className = cls;
    return n;
  }

  function safeUrl(url) {  // post links only to http(s), whatever a post's permalink says
    try { var u = new URL(url, location.href); return u.protocol === "https:" || u.protocol === "http:" ? u.href : null; }
    catch (e) { return null; }
  }

  function link(text, url) {
    var href = safeUrl(url);
    var a = el(href ? "a" : "span", text);
    if (href) { a.href = href; a.target = "_blank"; a.rel = "noopener noreferrer"; }
    return a;
  }

  function shown(f) {  // 8.028e11 jpy → 8,028億円
    var unit = UNITS[f.unit] != null ? UNITS[f.unit] : f.unit;
    var steps = [[1e12, "兆"], [1e8, "億"], [1e4, "万"]];
    function one(v) {
      for (var i = 0; i < steps.length; i++) {
        if (Math.abs(v) >= steps[i][0]) return (v / steps[i][0]).toLocaleString("ja-JP", { maximumSignificantDigits: 4 }) + steps[i][1];
      }
      return v.toLocaleString("ja-JP", { maximumSignificantDigits: 4 });
    }
    return one(f.value) + (f.high != null ? "〜" + one(f.high) : "") + unit;
  }

  function key() { return sessionStorage.getItem(KEY) || ""; }

  function api(path, options) {
    options = options || {};
    var headers = Object.assign({ "Authorization": "Bearer " + key() }, options.headers || {});
    return fetch(path, Object.assign({}, options, { headers: headers, credentials: "omit" })).then(function (res) {
      if (res.status === 401 || res.status === 403) {
        return res.json().catch(function () { return {}; }).then(function (body) {
          sessionStorage.removeItem(KEY);
          showLogin(body.detail || "This key may not use the desk.");
          throw new Error("unauthorized");
        });
      }
      if (!res.ok) {
        return res.json().catch(function () { return {}; }).then(function (body) {
          throw new Error(typeof body.detail === "string" ? body.detail : "The request failed (" + res.status + ").");
        });
      }
      return res;
    });
  }

  function download(path, fallbackName) {
    return api(path).then(function (res) {
      var disposition = res.headers.get("Content-Disposition") || "";
      var m = /filename="([^"]+)"/.exec(disposition);
      return res.blob().then(function (blob) {
        var a = el("a");
        a.href = URL.createObjectURL(blob);
        a.download = m ? m[1] : fallbackName;
        document.body.appendChild(a);
        a.click();
        setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
      });
    });
  }

  // --- views and the address bar: a view is reproduced by its URL ----------------------------------------
  function params() { return new URLSearchParams(location.search); }

  function select(view) {
    ["research", "readers"].forEach(function (name) {
      $("view-" + name).hidden = name !== view;
      $("tab-" + name).setAttribute("aria-selected", String(name === view));
    });
  }

  function showLogin(message) {
    $("login").hidden = false;
    $("forget").hidden = true;
    $("view-research").hidden = $("view-readers").hidden = true;
    $("key-error").textContent = message || "";
    $("key").focus();
  }

  function start() {
    if (!key()) return showLogin("");
    $("login").hidden = true;
    $("forget").hidden = false;
    var p = params();
    var view = p.get("view") === "readers" ? "readers" : "research";
    select(view);
    loadFacets().then(function () {
      if (view === "research" && p.get("topic")) {
        ["topic", "since", "until", "category", "tag"].forEach(function (name) { $(name).value = p.get(name) || ""; });
        runResearch(false);
      }
      if (view === "readers") {
        $("r-since").value = p.get("since") || "";
        $("r-until").value = p.get("until") || "";
        runReaders(false);
      }
    }).catch(function () {});
  }

  function loadFacets() {
    if (state.facets) return Promise.resolve(state.facets);
    return api("/v1/desk/facets").then(function (res) { return res.json(); }).then(function (f) {
      state.facets = f;
      var select = $("category");
      f.categories.forEach(function (c) { var o = el("option", c); o.value = c; select.appendChild(o); });
      var list = $("tags");
      f.tags.forEach(function (t) { var o = el("option"); o.value = t; list.appendChild(o); });
      return f;
    });
  }

  // --- topic research ---------------------------------------------------------------------------------------
  function researchQuery() {
    var q = new URLSearchParams();
    ["topic", "since", "until", "category", "tag"].forEach(function (name) { if ($(name).value) q.set(name, $(name).value.trim()); });
    return q;
  }

  function runResearch(push) {
    var q = researchQuery();
    if (!q.get("topic")) return;
    var body = { topic: q.get("topic"), limit: 50, tags: q.get("tag") ? [q.get("tag")] : [] };
    ["since", "until", "category"].forEach(function (name) { if (q.get(name)) body[name] = q.get(name); });
    var url = "/desk?view=research&" + q.toString();
    if (push) history.pushState(null, "", url);
    $("research-status").textContent = "Reading the posts…";
    var started = performance.now();
    return api("/v1/research", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })
      .then(function (res) { return res.json(); })
      .then(function (r) {
        state.research = r;
        renderResearch(r, url);
        $("research-status").textContent = "Done in " + Math.round(performance.now() - started) + " ms.";
      })
      .catch(function (err) { if (err.message !== "unauthorized") $("research-status").textContent = err.message; });
  }

  function chart(container, items, label) {
    container.textContent = "";
    if (!items.length) { container.appendChild(el("p", "Nothing in this period.", "muted")); return; }
    var ns = "http://www.w3.org/2000/svg";
    var top = Math.max.apply(null, items.map(function (i) { return i.count; })) || 1;
    var bar = Math.max(4, Math.min(80, Math.floor(1000 / items.length)));
    var width = bar * items.length + 40, height = 140;
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("class", "chart");
    svg.setAttribute("viewBox", "0 0 " + width + " " + (height + 40));
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", label + ": " + items.map(function (i) { return i.label + " " + i.count; }).join(", "));
    var every = Math.ceil(items.length / Math.max(1, Math.floor(1000 / 60)));  // labels at least 60 units apart
    items.forEach(function (item, i) {
      var h = item.count ? Math.max(2, Math.round(height * item.count / top)) : 2;
      var x = 30 + i * bar;
      var rect = document.createElementNS(ns, "rect");
      rect.setAttribute("x", x); rect.setAttribute("y", height - h + 10);
      rect.setAttribute("width", Math.max(2, bar - 3)); rect.setAttribute("height", h);
      if (!item.count) rect.setAttribute("class", "zero");
      var title = document.createElementNS(ns, "title");
      title.textContent = item.label + ": " + item.count;
      rect.appendChild(title);
      svg.appendChild(rect);
      if (item.count && bar >= 14) {
        var n = document.createElementNS(ns, "text");
        n.setAttribute("x", x + (bar - 3) / 2); n.setAttribute("y", height - h + 6); n.setAttribute("text-anchor", "middle");
        n.textContent = item.count;
        svg.appendChild(n);
      }
      if (i % every === 0) {
        var t = document.createElementNS(ns, "text");
        t.setAttribute("x", x); t.setAttribute("y", height + 28);
        t.textContent = item.label;
        svg.appendChild(t);
      }
    });
    container.appendChild(svg);
  }

  function figureKey(f) { return [f.source, f.measure, f.text, f.sentence].join("\u0000"); }

  function renderResearch(r, url) {
    $("research-result").hidden = false;
    $("r-title").textContent = r.topic;
    $("r-counts").textContent = r.posts.length + " posts, " + r.figures.length + " figures, " +
      r.disagreements.length + (r.disagreements.length === 1 ? " disagreement" : " disagreements") +
      " (" + Math.round(r.took_ms) + " ms on the server)";
    $("r-link").href = url;
    chart($("r-chart"), r.timeline.map(function (m) { return { label: m.month, count: m.count }; }), "posts per month");

    // which figures disagree, and with what: stated beside each highlighted row
    var against = {};
    r.disagreements.forEach(function (group) {
      group.figures.forEach(function (f) {
        var others = group.figures.filter(function (o) { return o.source !== f.source; });
        against[figureKey(f)] = others;
      });
    });
    var box = $("r-disagree");
    box.textContent = "";
    $("r-disagree-card").hidden = false;
    if (!r.disagreements.length) box.appendChild(el("p", "No two posts state different values for the same measure, subject, scope and period.", "muted"));
    r.disagreements.forEach(function (group) {
      var first = group.figures[0];
      box.appendChild(el("h3", group.measure + " — " + (first.subject || "") + (first.period ? " (" + first.period + ")" : "") + (first.scope ? " · " + first.scope : "")));
      var ul = el("ul");
      group.figures.forEach(function (f) {
        var li = el("li");
        li.appendChild(el("strong", shown(f)));
        li.appendChild(document.createTextNode((f.text !== shown(f) ? " (" + f.text + ")" : "") + " — " + f.date + " "));
        li.appendChild(link(f.title || f.source, f.url));
        li.appendChild(el("div", f.sentence, "s"));
        ul.appendChild(li);
      });
      box.appendChild(ul);
    });

    var table = el("table");
    var head = el("tr");
    ["date", "post", "whose", "measure", "scope", "value"].forEach(function (h) { var th = el("th", h); th.scope = "col"; head.appendChild(th); });
    var thead = el("thead"); thead.appendChild(head); table.appendChild(thead);
    var tbody = el("tbody");
    r.figures.forEach(function (f) {
      var tr = el("tr");
      var others = against[figureKey(f)];
      if (others) tr.className = "disagree";
      tr.appendChild(el("td", f.date));
      var post = el("td"); post.appendChild(link(f.title || f.source, f.url)); post.appendChild(el("div", f.sentence, "s"));
      tr.appendChild(post);
      tr.appendChild(el("td", f.subject || "—"));
      tr.appendChild(el("td", f.measure));
      tr.appendChild(el("td", [f.scope, f.period].filter(Boolean).join(" · ") || "—"));
      var value = el("td", shown(f), "v");
      if (others) {
        value.appendChild(el("div", "Disagrees with " + others.map(function (o) { return shown(o) + " (" + o.date + ", " + (o.title || o.source) + ")"; }).join("; "), "why"));
      }
      tr.appendChild(value);
      tbody.appendChild(tr);
    });
    table.appendChild(tbody);
    $("r-figures").textContent = "";
    $("r-figures").appendChild(r.figures.length ? table : el("p", "No figures near the topic.", "muted"));

    var changes = $("r-changes");
    changes.textContent = "";
    if (!r.changes.length) changes.appendChild(el("p", "No measure is given by more than one post.", "muted"));
    r.changes.slice(0, 20).forEach(function (group) {
      changes.appendChild(el("h3", group.measure + (group.figures[0].subject ? " — " + group.figures[0].subject : "")));
      var ul = el("ul");
      group.figures.forEach(function (f) {
        var li = el("li", f.date + ": " + shown(f) + " ");
        li.appendChild(link(f.title || f.source, f.url));
        ul.appendChild(li);
      });
      changes.appendChild(ul);
    });

    var posts = $("r-posts");
    posts.textContent = "";
    r.posts.forEach(function (p) {
      var li = el("li");
      li.appendChild(document.createTextNode(p.date + " "));
      li.appendChild(link(p.title, p.url));
      li.appendChild(el("div", p.snippet, "s"));
      posts.appendChild(li);
    });
  }

  // --- what readers ask -----------------------------------------------------------------------------------------
  function readersQuery() {
    var q = new URLSearchParams();
    if ($("r-since").value) q.set("since", $("r-since").value);
    if ($("r-until").value) q.set("until", $("r-until").value);
    return q;
  }

  function pct(x) { return Math.round(x * 1000) / 10 + "%"; }

  function runReaders(push) {
    var q = readersQuery();
    if (push) history.pushState(null, "", "/desk?view=readers" + (q.toString() ? "&" + q.toString() : ""));
    $("readers-status").textContent = "Reading the question log…";
    var started = performance.now();
    return api("/v1/desk/readers?" + q.toString()).then(function (res) { return res.json(); }).then(function (v) {
      renderReaders(v);
      $("readers-status").textContent = v.since + " to " + v.until + ", read in " + Math.round(performance.now() - started) + " ms.";
    }).catch(function (err) { if (err.message !== "unauthorized") $("readers-status").textContent = err.message; });
  }

  function stat(label, value) {
    var box = el("div", null, "stat");
    box.appendChild(el("b", value));
    box.appendChild(document.createTextNode(label));
    return box;
  }

  function renderReaders(v) {
    $("readers-result").hidden = false;
    if (!$("r-since").value) $("r-since").value = v.since;
    if (!$("r-until").value) $("r-until").value = v.until;
    var stats = $("q-stats");
    stats.textContent = "";
    stats.appendChild(stat("questions", String(v.total)));
    stats.appendChild(stat("answered", pct(v.shares.answered)));
    stats.appendChild(stat("refused", pct(v.shares.refused)));
    stats.appendChild(stat("extractive", pct(v.shares.extractive)));
    stats.appendChild(stat("from the cache", pct(v.shares.cached)));
    stats.appendChild(stat("first text p50", v.ttft_ms.p50 == null ? "—" : (v.ttft_ms.p50 / 1000).toFixed(1) + " s"));
    stats.appendChild(stat("first text p95", v.ttft_ms.p95 == null ? "—" : (v.ttft_ms.p95 / 1000).toFixed(1) + " s"));
    chart($("q-chart"), v.per_day.map(function (d) { return { label: d.day.slice(5), count: d.count }; }), "questions per day");

    var gaps = $("q-gaps");
    gaps.textContent = "";
    if (!v.gaps.length) gaps.appendChild(el("p", "Nothing refused or rated down in this period.", "muted"));
    v.gaps.forEach(function (g) {
      gaps.appendChild(el("h3", g.count + " × " + g.examples[0]));
      gaps.appendChild(el("p", g.refused + " refused, " + g.rated_down + " rated down; last asked " + g.last_asked.slice(0, 10), "s"));
      var ul = el("ul");
      g.examples.slice(1).forEach(function (e) { ul.appendChild(el("li", e)); });
      gaps.appendChild(ul);
      if (g.closest.length) {
        var p = el("p", "Closest posts: ", "s");
        g.closest.forEach(function (c, i) { if (i) p.appendChild(document.createTextNode(" · ")); p.appendChild(link(c.title, c.url)); });
        gaps.appendChild(p);
      }
    });

    var rated = $("q-rated");
    rated.textContent = "";
    if (!v.rated.length) { rated.appendChild(el("p", "No rated answers in this period.", "muted")); return; }
    var table = el("table");
    var head = el("tr");
    ["rating", "asked", "question", "comment", ""].forEach(function (h) { var th = el("th", h); th.scope = "col"; head.appendChild(th); });
    var thead = el("thead"); thead.appendChild(head); table.appendChild(thead);
    var tbody = el("tbody");
    v.rated.forEach(function (r) {
      var tr = el("tr");
      tr.appendChild(el("td", r.rating === "down" ? "▼ down" : "▲ up", r.rating === "down" ? "why" : "s"));
      tr.appendChild(el("td", r.asked_at.slice(0, 16).replace("T", " ")));
      tr.appendChild(el("td", r.question));
      tr.appendChild(el("td", r.comment || "—"));
      var cell = el("td");
      var open = el("button", "Open", "act ghost");
      open.type = "button";
      open.setAttribute("aria-label", "Open the answer to: " + r.question);
      open.addEventListener("click", function () { openAnswer(r.id); });
      cell.appendChild(open);
      tr.appendChild(cell);
      tbody.appendChild(tr);
    });
    table.appendChild(tbody);
    rated.appendChild(table);
  }

  function openAnswer(id) {
    api("/v1/desk/answers/" + encodeURIComponent(id)).then(function (res) { return res.json(); }).then(function (a) {
      $("d-question").textContent = a.question;
      $("d-meta").textContent = a.asked_at.slice(0, 16).replace("T", " ") + " · " + a.mode + (a.cached ? " · from the cache" : "");
      var passages = $("d-passages");
      passages.textContent = "";
      (a.passages || []).forEach(function (q) {
        var b = el("blockquote", q.text + " [" + q.n + "]");
        passages.appendChild(b);
      });
      $("d-answer").textContent = a.answer || "(no answer text was kept for this question)";
      var list = $("d-citations");
      list.textContent = "";
      (a.citations || []).forEach(function (c) {
        var li = el("li");
        if (c.n != null) li.value = c.n;
        li.appendChild(link(c.title, c.url));
        li.appendChild(document.createTextNode(" (" + c.date + ")"));
        list.appendChild(li);
      });
      $("d-rating").textContent = a.rating ? "Rated " + a.rating + (a.comment ? ": " + a.comment : "") : "";
      $("answer-dialog").showModal();
    }).catch(function (err) { if (err.message !== "unauthorized") $("readers-status").textContent = err.message; });
  }

  // --- wiring ------------------------------------------------------------------------------------------------------
  $("key-form").addEventListener("submit", function (e) {
    e.preventDefault();
    sessionStorage.setItem(KEY, $("key").value.trim());
    $("key").value = "";
    state.facets = null;
    start();
  });
  $("forget").addEventListener("click", function () { sessionStorage.removeItem(KEY); showLogin("The key is forgotten."); });
  $("tab-research").addEventListener("click", function () { select("research"); history.pushState(null, "", "/desk?view=research"); });
  $("tab-readers").addEventListener("click", function () { select("readers"); runReaders(true); });
  $("research-form").addEventListener("submit", function (e) { e.preventDefault(); runResearch(true); });
  $("readers-form").addEventListener("submit", function (e) { e.preventDefault(); runReaders(true); });
  document.querySelectorAll("[data-format]").forEach(function (b) {
    b.addEventListener("click", function () {
      var q = researchQuery();
      q.set("format", b.getAttribute("data-format"));
      download("/v1/desk/research?" + q.toString(), "research." + b.getAttribute("data-format")).catch(function (err) {
        if (err.message !== "unauthorized") $("research-status").textContent = err.message;
      });
    });
  });
  $("csv").addEventListener("click", function () {
    download("/v1/desk/readers.csv?" + readersQuery().toString(), "questions.csv").catch(function (err) {
      if (err.message !== "unauthorized") $("readers-status").textContent = err.message;
    });
  });
  window.addEventListener("popstate", start);
  start();
})();
