/* auditor report: claim panel on page views; filterable, sortable tables for findings and pages.
 * Vanilla JS, no dependencies. Data arrives through <script src="static/data/*.js"> files that set
 * window.AUDITOR_FINDINGS / window.AUDITOR_PAGES ({columns: [...], rows: [[...], ...]}), which works
 * from file:// where fetch() of local files is blocked. Every value is written with textContent;
 * links are set only to report-relative paths or http(s) URLs. */
(function () {
  "use strict";
  var d = document;
  d.documentElement.classList.add("js");

  function ready(fn) {
    if (d.readyState !== "loading") fn();
    else d.addEventListener("DOMContentLoaded", fn);
  }

  function el(tag, cls, text) {
    var e = d.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  var LOCAL_HREF = /^(?:\.\.\/)?(?:pages\/[A-Za-z0-9._-]+\.html|topics\.html|findings\.html|pages\.html|index\.html)(?:#[A-Za-z0-9_%=&.~+-]*)?$/;

  function localHref(h) {
    return typeof h === "string" && LOCAL_HREF.test(h) ? h : "";
  }

  function webHref(h) {
    if (typeof h !== "string" || !h) return "";
    try {
      var u = new URL(h);
      return u.protocol === "http:" || u.protocol === "https:" ? u.href : "";
    } catch (e) {
      return "";
    }
  }

  function typing(t) {
    return !!t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA" || t.isContentEditable);
  }

  /* ------------------------------------------------------------------ page view: the claim panel */

  function initPage() {
    var text = d.getElementById("text");
    var panel = d.getElementById("panel");
    if (!text || !panel) return;
    var closeBtn = d.getElementById("panel-close");
    var current = null;

    function pieces(i) {
      return text.querySelectorAll('mark.claim[data-claim="' + i + '"]');
    }

    function close() {
      if (current === null) return;
      var detail = d.getElementById("detail-" + current);
      if (detail) detail.classList.remove("active");
      Array.prototype.forEach.call(pieces(current), function (p) { p.classList.remove("active"); });
      panel.classList.remove("open");
      if (closeBtn) closeBtn.hidden = true;
      current = null;
    }

    function open(i, opts) {
      i = String(i);
      if (!/^\d+$/.test(i)) return false;
      var detail = d.getElementById("detail-" + i);
      if (!detail) return false;
      close();
      current = i;
      detail.classList.add("active");
      Array.prototype.forEach.call(pieces(i), function (p) { p.classList.add("active"); });
      panel.classList.add("open");
      if (closeBtn) closeBtn.hidden = false;
      panel.scrollTop = 0;
      if (opts && opts.hash && location.hash !== "#claim-" + i) history.replaceState(null, "", "#claim-" + i);
      if (opts && opts.focus) detail.focus({ preventScroll: true });
      return true;
    }

    function backToMark() {
      var i = current;
      close();
      history.replaceState(null, "", location.pathname + location.search);
      var mark = i !== null ? d.getElementById("claim-" + i) : null;
      if (mark) mark.focus();
    }

    text.addEventListener("click", function (e) {
      var mark = e.target.closest ? e.target.closest("mark.claim") : null;
      if (!mark || !text.contains(mark)) return;
      open(mark.getAttribute("data-claim"), { hash: true });
    });
    text.addEventListener("keydown", function (e) {
      var t = e.target;
      if ((e.key === "Enter" || e.key === " ") && t.matches && t.matches("mark.claim[data-claim]")) {
        e.preventDefault();
        open(t.getAttribute("data-claim"), { hash: true, focus: true });
      }
    });
    panel.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && current !== null) {
        e.preventDefault();
        backToMark();
      }
    });
    if (closeBtn) closeBtn.addEventListener("click", backToMark);

    function fromHash() {
      var m = /^#claim-(\d+)$/.exec(location.hash);
      if (!m || !open(m[1])) return;
      var mark = d.getElementById("claim-" + m[1]);
      if (mark) {
        mark.scrollIntoView({ block: "center" });
        mark.focus({ preventScroll: true });
      }
    }
    fromHash();
    window.addEventListener("hashchange", fromHash);
  }

  /* ------------------------------------------------------------------ tables */

  var LEVEL_ORDER = { error: 3, warning: 2, info: 1 };

  function pill(level) {
    var lv = LEVEL_ORDER[level] ? level : "info";
    return el("span", "pill lv-" + lv, level);
  }

  function link(text, href, cls) {
    var safe = localHref(href);
    if (!safe) return el("span", cls, text);
    var a = el("a", cls, text);
    a.href = safe;
    return a;
  }

  var CONFIGS = {
    findings: {
      data: "AUDITOR_FINDINGS",
      noun: ["finding", "findings"],
      search: ["message", "claim", "value", "sources", "page", "rule", "family", "topic", "suggestion", "id", "evidence"],
      order: { level: ["error", "warning", "info"], kinds: ["numeric", "promotional", "other", "page"] },
      sort: ["level", "desc"],
      href: "href",
      cell: function (key, get) {
        var v = get(key);
        if (key === "level") return pill(v);
        if (key === "rule") {
          var c = el("code", "rule", v);
          var fam = el("span", "family", get("family"));
          var wrap = el("span");
          wrap.appendChild(c);
          wrap.appendChild(d.createElement("br"));
          wrap.appendChild(fam);
          return wrap;
        }
        if (key === "message") {
          var span = el("span");
          span.appendChild(link(v, get("href")));
          if (get("review")) span.appendChild(el("span", "review", "reviewed: " + get("review")));
          return span;
        }
        if (key === "claim") {
          var q = el("span");
          if (v) q.appendChild(el("q", null, v));
          if (get("value")) q.appendChild(el("span", "val", get("value")));
          return q;
        }
        if (Array.isArray(v)) return el("span", null, v.join(", "));
        return el("span", null, v);
      }
    },
    pages: {
      data: "AUDITOR_PAGES",
      noun: ["page", "pages"],
      search: ["title", "source", "status", "id", "url", "error"],
      order: { status: ["audited", "duplicate", "skipped", "failed"] },
      sort: ["error_count", "desc"],
      href: "href",
      cell: function (key, get) {
        var v = get(key);
        if (key === "title") {
          var span = el("span");
          span.appendChild(link(v, get("href")));
          var url = get("url");
          var ext = webHref(url);
          if (ext) {
            var a = el("a", "ext small", url);
            a.href = ext;
            a.rel = "noopener noreferrer nofollow";
            a.target = "_blank";
            span.appendChild(a);
          }
          var st = get("status");
          if (get("error")) span.appendChild(el("span", st === "failed" || st === "skipped" ? "small err" : "small note", get("error")));
          return span;
        }
        if (key === "status") return el("span", "status st-" + (CONFIGS.pages.order.status.indexOf(v) >= 0 ? v : "other"), v);
        return el("span", null, v);
      }
    }
  };

  function initTable(name) {
    var cfg = CONFIGS[name];
    var table = d.getElementById(name);
    var data = window[cfg.data];
    var count = d.getElementById("count");
    if (!table || !cfg) return;
    if (!data || !Array.isArray(data.rows) || !Array.isArray(data.columns)) {
      count.textContent = "The data file (static/data/" + name + ".js) did not load.";
      return;
    }
    var col = {};
    data.columns.forEach(function (c, i) { col[c] = i; });
    var rows = data.rows;
    var tbody = table.tBodies[0];
    var form = d.getElementById("filters");
    var search = d.getElementById("q");
    var selects = Array.prototype.slice.call(form.querySelectorAll("select[data-filter]"));
    var heads = Array.prototype.slice.call(table.tHead.querySelectorAll("th[data-col]"));
    var cols = heads.map(function (th) { return th.getAttribute("data-col"); });
    var PAGE = 100;
    var state = { q: "", f: {}, sort: cfg.sort[0], dir: cfg.sort[1], p: 1 };
    var view = [];     // indexes of rows passing the filters, in sort order
    var sel = -1;      // selected position in view
    var haystack = null;

    function val(r, key) {
      var v = rows[r][col[key]];
      return v === undefined || v === null ? "" : v;
    }

    // filter options from the data
    var filterCol = {};
    selects.forEach(function (s) { filterCol[s.getAttribute("data-filter")] = s.getAttribute("data-col"); });
    selects.forEach(function (s) {
      var key = s.getAttribute("data-col");
      var seen = Object.create(null);
      rows.forEach(function (r, i) {
        var v = val(i, key);
        (Array.isArray(v) ? v : [v]).forEach(function (x) { if (x !== "") seen[x] = (seen[x] || 0) + 1; });
      });
      var order = (cfg.order && cfg.order[key]) || [];
      var keys = Object.keys(seen).sort(function (a, b) {
        var ia = order.indexOf(a), ib = order.indexOf(b);
        if (ia >= 0 || ib >= 0) return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
        return a < b ? -1 : a > b ? 1 : 0;
      });
      keys.forEach(function (k) {
        var o = el("option", null, k + " (" + seen[k] + ")");
        o.value = k;
        s.appendChild(o);
      });
    });

    function readHash() {
      var p = new URLSearchParams(location.hash.replace(/^#/, ""));
      state.q = p.get("q") || "";
      state.f = {};
      selects.forEach(function (s) {
        var key = s.getAttribute("data-filter");
        var v = p.get(key);
        if (v) state.f[key] = v;
      });
      var sort = p.get("sort");
      state.sort = sort && col[sort] !== undefined ? sort : cfg.sort[0];
      state.dir = p.get("dir") === "asc" ? "asc" : p.get("dir") === "desc" ? "desc" : (sort ? "asc" : cfg.sort[1]);
      state.p = Math.max(1, parseInt(p.get("p"), 10) || 1);
      search.value = state.q;
      selects.forEach(function (s) {
        var key = s.getAttribute("data-filter");
        var v = state.f[key] || "";
        if (v && !Array.prototype.some.call(s.options, function (o) { return o.value === v; })) {
          var o = el("option", null, v + " (0)");
          o.value = v;
          s.appendChild(o);
        }
        s.value = v;
      });
    }

    function writeHash() {
      var p = new URLSearchParams();
      if (state.q) p.set("q", state.q);
      selects.forEach(function (s) {
        var key = s.getAttribute("data-filter");
        if (state.f[key]) p.set(key, state.f[key]);
      });
      if (state.sort !== cfg.sort[0] || state.dir !== cfg.sort[1]) {
        p.set("sort", state.sort);
        p.set("dir", state.dir);
      }
      if (state.p > 1) p.set("p", String(state.p));
      var h = p.toString();
      var url = location.pathname + location.search + (h ? "#" + h : "");
      if (url !== location.pathname + location.search + location.hash) history.replaceState(null, "", url);
    }

    function buildHaystack() {
      haystack = rows.map(function (r, i) {
        return cfg.search.map(function (k) {
          var v = val(i, k);
          return Array.isArray(v) ? v.join(" ") : String(v);
        }).join("\u0001").toLowerCase();
      });
    }

    function sortKey(i, key) {
      var v = val(i, key);
      if (key === "level") return LEVEL_ORDER[v] || 0;
      if (typeof v === "number") return v;
      return (Array.isArray(v) ? v.join(", ") : String(v)).toLowerCase();
    }

    function compute() {
      var terms = state.q.toLowerCase().split(/\s+/).filter(Boolean);
      if (terms.length && !haystack) buildHaystack();
      var filters = Object.keys(state.f);
      view = [];
      for (var i = 0; i < rows.length; i++) {
        var ok = true;
        for (var k = 0; k < filters.length && ok; k++) {
          var v = val(i, filterCol[filters[k]]), want = state.f[filters[k]];
          ok = Array.isArray(v) ? v.indexOf(want) >= 0 : String(v) === want;
        }
        for (var t = 0; t < terms.length && ok; t++) ok = haystack[i].indexOf(terms[t]) >= 0;
        if (ok) view.push(i);
      }
      var key = state.sort, sign = state.dir === "asc" ? 1 : -1;
      var keys = {};
      view.forEach(function (i) { keys[i] = sortKey(i, key); });
      view.sort(function (a, b) {
        var ka = keys[a], kb = keys[b];
        if (ka < kb) return -sign;
        if (ka > kb) return sign;
        return a - b;
      });
      var pages = Math.max(1, Math.ceil(view.length / PAGE));
      if (state.p > pages) state.p = pages;
    }

    function render() {
      var start = (state.p - 1) * PAGE;
      var end = Math.min(view.length, start + PAGE);
      var frag = d.createDocumentFragment();
      for (var pos = start; pos < end; pos++) {
        var r = view[pos];
        var tr = el("tr");
        tr.tabIndex = -1;
        tr.setAttribute("data-pos", String(pos));
        var lv = val(r, "level");
        if (LEVEL_ORDER[lv]) tr.className = "lv-" + lv;
        cols.forEach(function (key, ci) {
          var td = el(ci === 0 ? "th" : "td", heads[ci].className);
          if (ci === 0) td.scope = "row";
          td.appendChild(cfg.cell(key, function (k) { return val(r, k); }));
          tr.appendChild(td);
        });
        if (pos === sel) {
          tr.classList.add("selected");
          tr.setAttribute("aria-selected", "true");
        }
        frag.appendChild(tr);
      }
      tbody.replaceChildren(frag);
      var total = rows.length, n = view.length;
      var noun = n === 1 ? cfg.noun[0] : cfg.noun[1];
      count.textContent = n
        ? "Showing " + (start + 1) + "\u2013" + end + " of " + n.toLocaleString("en") + " " + noun +
          (n !== total ? " (filtered from " + total.toLocaleString("en") + ")" : "")
        : "No " + cfg.noun[1] + " match" + (total ? " (of " + total.toLocaleString("en") + ")" : "") + ".";
      var pages = Math.max(1, Math.ceil(n / PAGE));
      d.getElementById("pageinfo").textContent = "Page " + state.p + " of " + pages;
      d.getElementById("prev").disabled = state.p <= 1;
      d.getElementById("next").disabled = state.p >= pages;
      heads.forEach(function (th) {
        var key = th.getAttribute("data-col");
        th.setAttribute("aria-sort", key === state.sort ? (state.dir === "asc" ? "ascending" : "descending") : "none");
      });
    }

    function update(resetPage) {
      if (resetPage) state.p = 1;
      sel = -1;
      compute();
      render();
      writeHash();
    }

    function rowAt(pos) {
      return tbody.querySelector('tr[data-pos="' + pos + '"]');
    }

    function select(pos) {
      if (!view.length) return;
      pos = Math.max(0, Math.min(view.length - 1, pos));
      var page = Math.floor(pos / PAGE) + 1;
      sel = pos;
      if (page !== state.p) {
        state.p = page;
        render();
        writeHash();
      } else {
        Array.prototype.forEach.call(tbody.querySelectorAll("tr.selected"), function (tr) {
          tr.classList.remove("selected");
          tr.removeAttribute("aria-selected");
        });
      }
      var tr = rowAt(pos);
      if (tr) {
        tr.classList.add("selected");
        tr.setAttribute("aria-selected", "true");
        tr.focus({ preventScroll: true });
        tr.scrollIntoView({ block: "nearest" });
      }
    }

    function openSelected() {
      if (sel < 0 || sel >= view.length) return false;
      var href = localHref(val(view[sel], cfg.href));
      if (!href) return false;
      location.href = href;
      return true;
    }

    // events
    var timer = null;
    search.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        state.q = search.value.trim();
        update(true);
      }, 120);
    });
    selects.forEach(function (s) {
      s.addEventListener("change", function () {
        var key = s.getAttribute("data-filter");
        if (s.value) state.f[key] = s.value;
        else delete state.f[key];
        update(true);
      });
    });
    form.addEventListener("submit", function (e) { e.preventDefault(); });
    form.addEventListener("reset", function (e) {
      e.preventDefault();
      state.q = "";
      state.f = {};
      state.sort = cfg.sort[0];
      state.dir = cfg.sort[1];
      search.value = "";
      selects.forEach(function (s) { s.value = ""; });
      update(true);
    });
    heads.forEach(function (th) {
      th.querySelector("button").addEventListener("click", function () {
        var key = th.getAttribute("data-col");
        if (state.sort === key) state.dir = state.dir === "asc" ? "desc" : "asc";
        else {
          state.sort = key;
          state.dir = key === "level" || typeof val(0, key) === "number" ? "desc" : "asc";
        }
        update(true);
      });
    });
    d.getElementById("prev").addEventListener("click", function () { state.p -= 1; sel = -1; render(); writeHash(); });
    d.getElementById("next").addEventListener("click", function () { state.p += 1; sel = -1; render(); writeHash(); });
    tbody.addEventListener("click", function (e) {
      var tr = e.target.closest("tr");
      if (tr && !e.target.closest("a")) select(parseInt(tr.getAttribute("data-pos"), 10));
    });
    d.addEventListener("keydown", function (e) {
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      if (typing(e.target)) {
        if (e.key === "Escape" && e.target === search) search.blur();
        else if ((e.key === "ArrowDown" || e.key === "Enter") && e.target === search && view.length) {
          e.preventDefault();
          select((state.p - 1) * PAGE);
        }
        return;
      }
      if (e.key === "/") {
        e.preventDefault();
        search.focus();
        search.select();
      } else if (e.key === "j" || e.key === "ArrowDown") {
        e.preventDefault();
        select(sel < 0 ? (state.p - 1) * PAGE : sel + 1);
      } else if (e.key === "k" || e.key === "ArrowUp") {
        e.preventDefault();
        select(sel < 0 ? (state.p - 1) * PAGE : sel - 1);
      } else if (e.key === "Enter" && !(e.target.closest && e.target.closest("a, button"))) {
        if (openSelected()) e.preventDefault();
      }
    });
    window.addEventListener("hashchange", function () {
      readHash();
      sel = -1;
      compute();
      render();
    });

    readHash();
    compute();
    render();
    writeHash();
  }

  ready(function () {
    var viewName = d.body.getAttribute("data-view");
    if (viewName === "page") initPage();
    else if (viewName === "findings" || viewName === "pages") initTable(viewName);
  });
})();
