/* archive-qa chat widget: one script tag, no framework, no requests to any host but data-api.
 *   <script src="https://qa.example.jp/widget.js" data-api="https://qa.example.jp" defer></script>
 * Optional: data-title="…". No key: the service admits the blog's own pages (RAG_CORS_ORIGINS) as public
 * readers, limited per address, so nothing secret is ever put in a page.
 */
(function () {
  "use strict";
  var script = document.currentScript || document.querySelector("script[src*='widget.js']");
  if (!script || window.__archiveQaWidget) return;
  window.__archiveQaWidget = true;

  var api = (script.getAttribute("data-api") || new URL(script.src, location.href).origin).replace(/\/+$/, "");
  var lang = (document.documentElement.lang || "ja").toLowerCase().indexOf("en") === 0 ? "en" : "ja";
  var T = {
    ja: {
      open: "記事に質問する", close: "閉じる", title: script.getAttribute("data-title") || "AIコンパスに質問",
      placeholder: "質問を入力（Enterで送信、Shift+Enterで改行）", send: "送信", searching: "記事を検索しています…",
      thinking: "回答を作成しています…", sources: "出典", related: "関連しそうな記事", error: "回答できませんでした。",
      busy: "混み合っています。少し待ってからもう一度お試しください。", extractive: "（記事からの抜粋です）", quoted: "記事より",
      label: "質問", empty: "アーカイブの記事をもとに、出典つきで答えます。",
      up: "役に立った", down: "役に立たなかった", thanks: "ご意見ありがとうございます。",
      comment: "どこが足りませんでしたか？（任意）", sendComment: "送る",
      fresh: "新しい会話", suggested: "よく聞かれている質問"
    },
    en: {
      open: "Ask the archive", close: "Close", title: script.getAttribute("data-title") || "Ask the archive",
      placeholder: "Type a question (Enter to send, Shift+Enter for a new line)", send: "Send",
      searching: "Searching the posts…", thinking: "Writing the answer…", sources: "Sources",
      related: "Related posts", error: "The answer failed.", busy: "Busy right now. Please try again shortly.",
      extractive: "(quoted from the posts)", quoted: "From the post", label: "Question",
      empty: "Answers come from the archive's posts, with sources you can check.",
      up: "Helpful", down: "Not helpful", thanks: "Thank you for the feedback.",
      comment: "What was missing? (optional)", sendComment: "Send",
      fresh: "New conversation", suggested: "Often asked"
    }
  }[lang];

  var host = document.createElement("div");
  host.setAttribute("data-archive-qa", "");
  var root = host.attachShadow({ mode: "open" });
  root.innerHTML =
    "<style>" +
    ":host{all:initial}*{box-sizing:border-box;font-family:system-ui,-apple-system,'Hiragino Sans','Noto Sans JP',sans-serif}" +
    ".fab{position:fixed;right:20px;bottom:20px;z-index:2147483000;border:0;border-radius:28px;padding:14px 20px;" +
    "background:#1a56db;color:#fff;font-size:15px;box-shadow:0 4px 14px rgba(0,0,0,.25);cursor:pointer}" +
    ".fab:focus-visible,button:focus-visible,textarea:focus-visible,a:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}" +
    ".panel{position:fixed;right:20px;bottom:84px;z-index:2147483000;width:min(420px,calc(100vw - 40px));" +
    "height:min(600px,calc(100vh - 120px));display:none;flex-direction:column;background:#fff;color:#111;" +
    "border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.3);overflow:hidden;font-size:14px;line-height:1.6}" +
    ".panel.open{display:flex}header{display:flex;align-items:center;justify-content:space-between;" +
    "padding:10px 14px;background:#1a56db;color:#fff}header h2{margin:0;font-size:15px}" +
    "header button{background:transparent;border:0;color:#fff;font-size:20px;cursor:pointer;padding:2px 8px}" +
    ".log{flex:1;overflow-y:auto;padding:12px 14px}.msg{margin:0 0 12px}.user{text-align:right}" +
    ".user .bubble{display:inline-block;background:#e8effd;border-radius:10px;padding:6px 10px;max-width:90%;text-align:left}" +
    ".bot .bubble{white-space:pre-wrap}.status{color:#666;font-size:13px}.cites{margin:6px 0 0;padding-left:0;list-style:none;font-size:13px}" +
    ".cites li{margin:2px 0}.cites a{color:#1a56db}.note{color:#666;font-size:12px}" +
    ".rate{margin-top:6px;display:flex;gap:6px;align-items:center}.rate .thumb{border:1px solid #ccc;background:#fff;" +
    "border-radius:6px;cursor:pointer;padding:2px 8px}.rate .thumb[aria-pressed=true]{background:#e8eefc}" +
    ".rate .comment{flex:1;font-size:12px;padding:3px}.rate .thumb svg{width:14px;height:14px;vertical-align:-2px;margin-right:3px}" +
    "header .fresh{font-size:12px;border:1px solid rgba(255,255,255,.6);border-radius:6px;margin-left:auto;margin-right:6px}" +
    ".suggest{margin:8px 0}.suggest button{display:block;width:100%;text-align:left;margin:4px 0;padding:6px 10px;" +
    "border:1px solid #c7d2f0;border-radius:8px;background:#f5f8ff;color:#1a3d8f;cursor:pointer;font-size:13px}" +
    ".quote{margin:6px 0;padding:6px 10px;border-left:4px solid #f59e0b;background:#fffbeb;color:#333}" +
    ".quote p{margin:0}.quote .from{margin-top:4px;font-size:12px}.quote a{color:#1a56db}" +
    "form{display:flex;gap:8px;border-top:1px solid #ddd;padding:10px}" +
    "textarea{flex:1;resize:none;height:44px;padding:8px;border:1px solid #bbb;border-radius:8px;font-size:14px}" +
    "form button{border:0;border-radius:8px;background:#1a56db;color:#fff;padding:0 14px;cursor:pointer}" +
    "form button:disabled{background:#9bb3e8;cursor:default}" +
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}" +
    "</style>" +
    "<button class='fab' type='button' aria-haspopup='dialog' aria-expanded='false'></button>" +
    "<section class='panel' role='dialog' aria-modal='false' aria-labelledby='qa-title'>" +
    "<header><h2 id='qa-title'></h2><button type='button' class='fresh'></button>" +
    "<button type='button' class='close'></button></header>" +
    "<div class='log' role='log' aria-live='polite' aria-relevant='additions text'><p class='note empty'></p></div>" +
    "<form><label class='sr' for='qa-input'></label><textarea id='qa-input' rows='2'></textarea>" +
    "<button type='submit'></button></form></section>";

  var fab = root.querySelector(".fab");
  var panel = root.querySelector(".panel");
  var closeBtn = root.querySelector(".close");
  var freshBtn = root.querySelector(".fresh");
  var log = root.querySelector(".log");
  var form = root.querySelector("form");
  var input = root.querySelector("textarea");
  var sendBtn = root.querySelector("form button");
  fab.textContent = T.open;
  closeBtn.textContent = "×";
  freshBtn.textContent = T.fresh;
  closeBtn.setAttribute("aria-label", T.close);
  root.querySelector("h2").textContent = T.title;
  root.querySelector(".empty").textContent = T.empty;
  root.querySelector("label").textContent = T.label;
  input.placeholder = T.placeholder;
  sendBtn.textContent = T.send;

  // The conversation follows the reader from page to page of the blog: kept in this tab's sessionStorage
  // (the blog's own, never sent anywhere but to the API with the next question), cleared by "new conversation".
  var STORE = "archive-qa-conversation";
  var saved = load();
  var history = [];
  var busy = false;

  function load() {
    try { return JSON.parse(sessionStorage.getItem(STORE) || "null") || { open: false, turns: [] }; }
    catch (e) { return { open: false, turns: [] }; }
  }
  function save() {
    try { sessionStorage.setItem(STORE, JSON.stringify(saved)); } catch (e) { /* storage full or off: nothing kept */ }
  }

  function setOpen(open) {
    panel.classList.toggle("open", open);
    fab.setAttribute("aria-expanded", String(open));
    saved.open = open;
    save();
    if (open) { input.focus(); if (!saved.turns.length) suggest(); } else fab.focus();
  }
  fab.addEventListener("click", function () { setOpen(!panel.classList.contains("open")); });
  closeBtn.addEventListener("click", function () { setOpen(false); });
  freshBtn.addEventListener("click", function () {
    saved = { open: true, turns: [] };
    history = [];
    save();
    log.textContent = "";
    log.appendChild(el("p", "note empty", T.empty));
    suggest();
    input.focus();
  });
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") setOpen(false); });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
  });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var q = input.value.trim();
    if (!q || busy) return;
    input.value = "";
    ask(q);
  });

  function el(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text != null) n.textContent = text;
    return n;
  }

  function safeUrl(url) {  // a post link, never javascript: or data:
    try {
      var u = new URL(url, location.href);
      return u.protocol === "https:" || u.protocol === "http:" ? url : null;
    } catch (e) { return null; }
  }

  function link(c) {
    var href = safeUrl(c.url);
    var a = el(href ? "a" : "span", null, c.title);
    if (href) {
      a.href = href;
      // a post of this blog opens here, where the conversation follows; another site in a new tab
      if (new URL(href, location.href).origin !== location.origin) { a.target = "_blank"; a.rel = "noopener"; }
    }
    return a;
  }

  // Three questions readers often ask (from the service's log), offered when the conversation is empty.
  function suggest() {
    if (saved.turns.length || root.querySelector(".suggest")) return;
    fetch(api + "/v1/suggestions", { method: "POST", credentials: "omit" }).then(function (res) {
      return res.ok ? res.json() : { questions: [] };
    }).then(function (body) {
      var questions = (body.questions || []).slice(0, 3);
      if (!questions.length || saved.turns.length || root.querySelector(".suggest")) return;
      var box = el("div", "suggest");
      box.appendChild(el("div", "note", T.suggested));
      questions.forEach(function (q) {
        var b = el("button", null, q);
        b.type = "button";
        b.addEventListener("click", function () { if (!busy) { box.remove(); ask(q); } });
        box.appendChild(b);
      });
      log.appendChild(box);
    }).catch(function () { /* no suggestions: the empty note says enough */ });
  }

  // The key passage: the post's own sentence, quoted while the model writes; it stays under the answer.
  function passages(box, items) {
    box.textContent = "";
    (items || []).forEach(function (q) {
      var block = el("blockquote", "quote");
      block.appendChild(el("p", null, q.text + " [" + q.n + "]"));
      var from = el("div", "from", "— " + T.quoted + ": ");
      from.appendChild(link(q));
      from.appendChild(document.createTextNode(" (" + q.date + ")"));
      block.appendChild(from);
      box.appendChild(block);
    });
  }

  function citations(list, heading, items) {
    if (!items.length) return;
    list.appendChild(el("div", "note", heading));
    var ul = el("ul", "cites");
    items.forEach(function (c) {
      var li = el("li");
      if (c.n != null) li.appendChild(document.createTextNode("[" + c.n + "] "));
      var a = link(c);
      if (c.quote) a.title = c.quote;
      li.appendChild(a);
      li.appendChild(document.createTextNode(" (" + c.date + ")"));
      ul.appendChild(li);
    });
    list.appendChild(ul);
  }

  var THUMB_UP = "<svg viewBox='0 0 24 24' aria-hidden='true' focusable='false'><path fill='currentColor' " +
    "d='M2 21h4V9H2v12zm20-11a2 2 0 0 0-2-2h-6.3l1-4.6v-.3c0-.4-.2-.8-.4-1.1L13.2 1 6.6 7.6C6.2 8 6 8.5 6 9v10a2 " +
    "2 0 0 0 2 2h9c.8 0 1.5-.5 1.8-1.2l3-7.1c.1-.2.2-.5.2-.7v-2z'/></svg>";
  var THUMB_DOWN = "<svg viewBox='0 0 24 24' aria-hidden='true' focusable='false'><path fill='currentColor' " +
    "d='M22 3h-4v12h4V3zM2 14a2 2 0 0 0 2 2h6.3l-1 4.6v.3c0 .4.2.8.4 1.1l1.1 1 6.6-6.6c.4-.4.6-.9.6-1.4V5a2 2 0 " +
    "0 0-2-2H7c-.8 0-1.5.5-1.8 1.2l-3 7.1c-.1.2-.2.5-.2.7v2z'/></svg>";

  // Thumbs under an answer: the rating names the answer by the id the service logged it under.
  function rate(box, id, turn) {
    if (turn && turn.rated) { box.appendChild(el("div", "note", T.thanks)); return; }
    var row = el("div", "rate");
    function send(rating, comment) {
      return fetch(api + "/v1/feedback", {
        method: "POST", headers: { "Content-Type": "application/json" }, credentials: "omit",
        body: JSON.stringify({ answer_id: id, rating: rating, comment: comment || "" })
      }).then(function (res) { if (!res.ok) throw new Error(T.error); });
    }
    function thank() { row.textContent = ""; row.appendChild(el("span", "note", T.thanks)); }
    function fail() { row.appendChild(el("span", "note", T.error)); }
    [["up", THUMB_UP, T.up], ["down", THUMB_DOWN, T.down]].forEach(function (b) {
      var btn = el("button", "thumb " + b[0]);
      btn.type = "button";
      btn.innerHTML = b[1];  // our own constant SVG, drawn without any emoji font
      btn.appendChild(document.createTextNode(b[2]));
      btn.title = b[2];
      btn.addEventListener("click", function () {
        row.querySelectorAll("button").forEach(function (x) { x.disabled = true; });
        btn.setAttribute("aria-pressed", "true");
        if (turn) { turn.rated = b[0]; save(); }
        send(b[0]).then(function () {
          if (b[0] === "up") return thank();
          var note = el("input", "comment");  // a thumbs down may say why; sent only if the reader does
          note.maxLength = 1000;
          note.placeholder = T.comment;
          note.setAttribute("aria-label", T.comment);
          var go = el("button", "send-comment", T.sendComment);
          go.type = "button";
          go.addEventListener("click", function () {
            go.disabled = true;
            send("down", note.value).then(thank, fail);
          });
          row.appendChild(note);
          row.appendChild(go);
        }, fail);
      });
      row.appendChild(btn);
    });
    box.appendChild(row);
  }

  function exchange(q) {  // the reader's question and the place its answer goes
    var empty = root.querySelector(".empty");
    if (empty) empty.remove();
    var suggestions = root.querySelector(".suggest");
    if (suggestions) suggestions.remove();
    var mine = el("div", "msg user");
    mine.appendChild(el("span", "bubble", q));
    log.appendChild(mine);
    var bot = el("div", "msg bot");
    var parts = { status: el("div", "status", T.searching), bubble: el("div", "bubble"), quotes: el("div", "passages"),
                  extra: el("div") };
    bot.appendChild(parts.status);
    bot.appendChild(parts.bubble);
    bot.appendChild(parts.quotes);
    bot.appendChild(parts.extra);
    log.appendChild(bot);
    log.scrollTop = log.scrollHeight;
    return parts;
  }

  function finish(parts, data, turn) {  // an answer as the reader sees it, live or restored on another page
    parts.status.remove();
    var quoted = data.passages && data.passages.length;
    passages(parts.quotes, data.passages);
    // the checked text, with its verified markers; an extractive answer that is the quote says nothing more
    parts.bubble.textContent = data.mode === "extractive" && quoted ? "" : data.answer;
    if (data.mode === "extractive" && !quoted) parts.extra.appendChild(el("div", "note", T.extractive));
    citations(parts.extra, T.sources, data.citations || []);
    if (data.refused) citations(parts.extra, T.related, data.related || []);
    if (data.id) rate(parts.extra, data.id, turn);
  }

  function restore() {
    saved.turns.forEach(function (turn) {
      finish(exchange(turn.q), turn.a, turn);
      history.push({ role: "user", content: turn.q }, { role: "assistant", content: turn.a.answer });
    });
    if (saved.open) { panel.classList.add("open"); fab.setAttribute("aria-expanded", "true"); }
    log.scrollTop = log.scrollHeight;
  }

  function ask(q) {
    busy = true;
    sendBtn.disabled = true;
    var parts = exchange(q);
    var status = parts.status, bubble = parts.bubble, quotes = parts.quotes;

    var headers = { "Content-Type": "application/json", "Accept": "text/event-stream" };
    fetch(api + "/v1/ask", {
      method: "POST", headers: headers, credentials: "omit",
      body: JSON.stringify({ question: q, history: history.slice(-6), stream: true })
    }).then(function (res) {
      if (res.status === 429) throw new Error(T.busy);
      if (!res.ok || !res.body) throw new Error(T.error);
      var reader = res.body.getReader();
      var decoder = new TextDecoder();
      var buf = "";
      function handle(event, data) {
        if (event === "sources") status.textContent = T.thinking;
        else if (event === "passage") { passages(quotes, data.passages); log.scrollTop = log.scrollHeight; }
        else if (event === "delta") { bubble.textContent += data.text; log.scrollTop = log.scrollHeight; }
        else if (event === "done") {
          var turn = { q: q, a: { answer: data.answer, mode: data.mode, refused: data.refused, id: data.id,
                                  citations: data.citations, related: data.related, passages: data.passages } };
          saved.turns.push(turn);
          saved.turns = saved.turns.slice(-20);  // a long conversation keeps its last twenty exchanges
          save();
          finish(parts, data, turn);
          history.push({ role: "user", content: q }, { role: "assistant", content: data.answer });
          log.scrollTop = log.scrollHeight;
        } else if (event === "error") throw new Error(T.error);
      }
      function pump() {
        return reader.read().then(function (r) {
          if (r.done) return;
          buf += decoder.decode(r.value, { stream: true });
          var parts = buf.split("\n\n");
          buf = parts.pop();
          parts.forEach(function (block) {
            var ev = "message", data = "";
            block.split("\n").forEach(function (line) {
              if (line.indexOf("event:") === 0) ev = line.slice(6).trim();
              else if (line.indexOf("data:") === 0) data += line.slice(5).trim();
            });
            if (data) handle(ev, JSON.parse(data));
          });
          return pump();
        });
      }
      return pump();
    }).catch(function (err) {
      status.textContent = err && err.message ? err.message : T.error;
    }).then(function () {
      busy = false;
      sendBtn.disabled = false;
      input.focus();
    });
  }

  function mount() { document.body.appendChild(host); restore(); }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
