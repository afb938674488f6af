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
      comment: "どこが足りませんでしたか？（任意）", sendComment: "送る"
    },
    en: {
      open: "Ask the archive", close: "Close", title: script.getAttribute("data-title") || "Ask the archive",
      placeholder: "Type a question (Enter to send, Shift+Enter for a new line)", send: "Send",
      searching: "Searching the posts…", thinking: "Writing the answer…", sources: "Sources",
      related: "Related posts", error: "The answer failed.", busy: "Busy right now. Please try again shortly.",
      extractive: "(quoted from the posts)", quoted: "From the post", label: "Question",
      empty: "Answers come from the archive's posts, with sources you can check.",
      up: "Helpful", down: "Not helpful", thanks: "Thank you for the feedback.",
      comment: "What was missing? (optional)", sendComment: "Send"
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
    ".rate .comment{flex:1;font-size:12px;padding:3px}" +
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
    "<header><h2 id='qa-title'></h2><button type='button' class='close'></button></header>" +
    "<div class='log' role='log' aria-live='polite' aria-relevant='additions text'><p class='note empty'></p></div>" +
    "<form><label class='sr' for='qa-input'></label><textarea id='qa-input' rows='2'></textarea>" +
    "<button type='submit'></button></form></section>";

  var fab = root.querySelector(".fab");
  var panel = root.querySelector(".panel");
  var closeBtn = root.querySelector(".close");
  var log = root.querySelector(".log");
  var form = root.querySelector("form");
  var input = root.querySelector("textarea");
  var sendBtn = root.querySelector("form button");
  fab.textContent = T.open;
  closeBtn.textContent = "×";
  closeBtn.setAttribute("aria-label", T.close);
  root.querySelector("h2").textContent = T.title;
  root.querySelector(".empty").textContent = T.empty;
  root.querySelector("label").textContent = T.label;
  input.placeholder = T.placeholder;
  sendBtn.textContent = T.send;

  var history = [];
  var busy = false;

  function setOpen(open) {
    panel.classList.toggle("open", open);
    fab.setAttribute("aria-expanded", String(open));
    if (open) input.focus(); else fab.focus();
  }
  fab.addEventListener("click", function () { setOpen(!panel.classList.contains("open")); });
  closeBtn.addEventListener("click", function () { setOpen(false); });
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
    if (href) { a.href = href; a.target = "_blank"; a.rel = "noopener"; }
    return a;
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

  // Thumbs under an answer: the rating names the answer by the id the service logged it under.
  function rate(box, id) {
    var row = el("div", "rate");
    function send(rating, comment) {
      return fetch(api + "/v1/feedback", {
        method: "POST", headers: { "Content-Type": "application/json" }, credentials: "omit",
        body: JSON.stringify({ answer_id: id, rating: rating, comment: comment || "" })
      }).then(function (res) { if (!res.ok) throw new Error(T.error); });
    }
    function thank() { row.textContent = ""; row.appendChild(el("span", "note", T.thanks)); }
    function fail() { row.appendChild(el("span", "note", T.error)); }
    [["up", "\uD83D\uDC4D", T.up], ["down", "\uD83D\uDC4E", T.down]].forEach(function (b) {
      var btn = el("button", "thumb " + b[0], b[1]);
      btn.type = "button";
      btn.setAttribute("aria-label", b[2]);
      btn.title = b[2];
      btn.addEventListener("click", function () {
        row.querySelectorAll("button").forEach(function (x) { x.disabled = true; });
        btn.setAttribute("aria-pressed", "true");
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

  function ask(q) {
    busy = true;
    sendBtn.disabled = true;
    var empty = root.querySelector(".empty");
    if (empty) empty.remove();
    var mine = el("div", "msg user");
    mine.appendChild(el("span", "bubble", q));
    log.appendChild(mine);
    var bot = el("div", "msg bot");
    var status = el("div", "status", T.searching);
    var bubble = el("div", "bubble");
    var quotes = el("div", "passages");
    var extra = el("div");
    bot.appendChild(status);
    bot.appendChild(bubble);
    bot.appendChild(quotes);
    bot.appendChild(extra);
    log.appendChild(bot);
    log.scrollTop = log.scrollHeight;

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
          status.remove();
          var quoted = data.passages && data.passages.length;
          passages(quotes, data.passages);
          // the checked text, with its verified markers; an extractive answer that is the quote says nothing more
          bubble.textContent = data.mode === "extractive" && quoted ? "" : data.answer;
          if (data.mode === "extractive" && !quoted) extra.appendChild(el("div", "note", T.extractive));
          citations(extra, T.sources, data.citations);
          if (data.refused) citations(extra, T.related, data.related || []);
          if (data.id) rate(extra, data.id);
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

  function mount() { document.body.appendChild(host); }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
