// The console's live parts: polls the state endpoint and redraws; no library, no inline script (CSP).
(function () {
  "use strict";
  var root = document.getElementById("console");
  var stateUrl = root.getAttribute("data-state");
  var pollMs = Number(root.getAttribute("data-poll")) || 1500;
  var SVG = "http://www.w3.org/2000/svg";

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function pad(n) { return n < 10 ? "0" + n : String(n); }

  function clock(epoch) {
    var d = new Date(epoch * 1000);
    return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }

  function stamp(epoch) {
    var d = new Date(epoch * 1000);
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + clock(epoch);
  }

  function duration(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    if (seconds < 60) return seconds + "s";
    if (seconds < 3600) return Math.floor(seconds / 60) + "m " + (seconds % 60) + "s";
    if (seconds < 86400) return Math.floor(seconds / 3600) + "h " + Math.floor((seconds % 3600) / 60) + "m";
    return Math.floor(seconds / 86400) + "d " + Math.floor((seconds % 86400) / 3600) + "h";
  }

  function ms(value) { return value === null || value === undefined ? "-" : value.toFixed(1) + " ms"; }
  function pct(value) { return (value * 100).toFixed(value && value < 0.1 ? 1 : 0) + "%"; }

  // An inline SVG line of the values (null leaves a gap); the last value gets a dot.
  function sparkline(values, kind, label) {
    var width = 120, height = 28;
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    svg.setAttribute("class", "spark " + (kind || ""));
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", label || "history");
    var numbers = values.filter(function (v) { return v !== null && v !== undefined; });
    var base = document.createElementNS(SVG, "line");
    base.setAttribute("x1", "0"); base.setAttribute("x2", String(width));
    base.setAttribute("y1", String(height - 1)); base.setAttribute("y2", String(height - 1));
    base.setAttribute("class", "base");
    svg.appendChild(base);
    if (!numbers.length) return svg;
    var max = Math.max.apply(null, numbers) || 1;
    var step = values.length > 1 ? width / (values.length - 1) : width;
    var segment = [], last = null;
    function flush() {
      if (segment.length > 1) {
        var line = document.createElementNS(SVG, "polyline");
        line.setAttribute("points", segment.join(" "));
        svg.appendChild(line);
      }
      segment = [];
    }
    values.forEach(function (v, i) {
      if (v === null || v === undefined) { flush(); return; }
      var x = values.length > 1 ? i * step : width / 2;
      var y = height - 2 - (v / max) * (height - 5);
      segment.push(x.toFixed(1) + "," + y.toFixed(1));
      last = [x, y];
    });
    flush();
    if (last) {
      var dot = document.createElementNS(SVG, "circle");
      dot.setAttribute("cx", last[0].toFixed(1)); dot.setAttribute("cy", last[1].toFixed(1));
      dot.setAttribute("r", "2");
      svg.appendChild(dot);
    }
    return svg;
  }

  function badge(status) {
    var node = el("span", "pill", status);
    node.setAttribute("data-status", status);
    return node;
  }

  function fact(list, name, value) {
    var row = el("div");
    row.appendChild(el("dt", null, name));
    var dd = el("dd");
    if (value instanceof Node) dd.appendChild(value); else dd.textContent = value;
    row.appendChild(dd);
    list.appendChild(row);
  }

  function circuits(map) {
    var keys = Object.keys(map || {});
    if (!keys.length) return "-";
    return keys.map(function (k) { return k + ": " + map[k]; }).join(", ");
  }

  function renderService(s) {
    var overall = document.getElementById("overall");
    overall.textContent = s.status;
    overall.setAttribute("data-status", s.status);
    document.getElementById("overall-since").textContent = "since " + stamp(s.since);
    document.getElementById("version").textContent = s.version;
    document.getElementById("uptime").textContent = duration(s.uptime_seconds);
    document.getElementById("started").textContent = stamp(s.started_at);
  }

  function renderDependencies(deps) {
    var box = document.getElementById("dependencies");
    var cards = deps.map(function (d) {
      var card = el("div", "card dep");
      card.setAttribute("data-dep", d.key);
      var head = el("div", "card-head");
      head.appendChild(el("h3", null, d.name));
      var b = badge(d.status);
      b.classList.add("dep-status");
      head.appendChild(b);
      card.appendChild(head);
      var list = el("dl", "facts small");
      fact(list, "last ping", ms(d.latency_ms));
      fact(list, "circuit by worker", circuits(d.circuits));
      card.appendChild(list);
      card.appendChild(el("p", "message", d.message));
      var latencies = d.history.map(function (h) { return h[1]; });
      card.appendChild(sparkline(latencies, "latency", d.name + " latency history"));
      return card;
    });
    box.replaceChildren.apply(box, cards);
  }

  function renderTraffic(t) {
    document.getElementById("traffic-window").textContent =
      "(last " + duration(Math.min(t.window_seconds, t.times.length * t.interval_seconds)) + ", per " +
      t.interval_seconds + " s)";
    var box = document.getElementById("traffic");
    if (!t.routes.length) {
      box.replaceChildren(el("p", "muted", "No requests in the window."));
      return;
    }
    var cards = t.routes.map(function (r) {
      var card = el("div", "card route");
      card.setAttribute("data-route", r.route);
      card.appendChild(el("h3", "route-name", r.route));
      var list = el("dl", "facts small");
      fact(list, "req/s", r.rps.toFixed(2));
      fact(list, "4xx", pct(r.error_rate["4xx"]));
      fact(list, "5xx", pct(r.error_rate["5xx"]));
      fact(list, "p50", ms(r.p50_ms));
      fact(list, "p95", ms(r.p95_ms));
      var t504 = el("span", "count-504", r.timeouts_504);
      fact(list, "504 budget", t504);
      fact(list, "503 shed", r.shed_503);
      fact(list, "429 limited", r.limited_429);
      card.appendChild(list);
      var charts = el("div", "charts");
      var c1 = el("figure"); c1.appendChild(sparkline(r.series.rps, "rps", "requests per second"));
      c1.appendChild(el("figcaption", null, "req/s"));
      var c2 = el("figure"); c2.appendChild(sparkline(r.series.errors, "errors", "errors per interval"));
      c2.appendChild(el("figcaption", null, "errors"));
      var c3 = el("figure"); c3.appendChild(sparkline(r.series.p95_ms, "latency", "p95 latency"));
      c3.appendChild(el("figcaption", null, "p95"));
      charts.appendChild(c1); charts.appendChild(c2); charts.appendChild(c3);
      card.appendChild(charts);
      return card;
    });
    box.replaceChildren.apply(box, cards);
  }

  function cell(row, label, value, className) {
    var td = el("td", className, value);
    td.setAttribute("data-label", label);
    row.appendChild(td);
  }

  function renderWorkers(workers) {
    var body = document.querySelector("#workers tbody");
    body.replaceChildren.apply(body, workers.map(function (w) {
      var row = el("tr");
      row.setAttribute("data-pid", w.pid);
      if (w.stale) row.className = "stale";
      cell(row, "pid", w.pid);
      cell(row, "age", duration(w.age_seconds));
      cell(row, "in flight", w.in_flight);
      cell(row, "draining", w.draining ? "draining" : "no", w.draining ? "warn" : "");
      cell(row, "shed", w.shed_total);
      cell(row, "circuits", circuits(w.circuits));
      cell(row, "heartbeat", w.stale ? "stale (" + duration(w.heartbeat_age_seconds) + ")" : "ok");
      return row;
    }));
  }

  function renderErrors(errors) {
    var body = document.querySelector("#errors tbody");
    document.getElementById("no-errors").hidden = errors.length > 0;
    document.getElementById("errors").hidden = errors.length === 0;
    body.replaceChildren.apply(body, errors.map(function (e) {
      var row = el("tr");
      row.setAttribute("data-request-id", e.request_id);
      cell(row, "time", clock(e.time));
      cell(row, "status", e.status, "status s" + String(e.status).charAt(0));
      cell(row, "method", e.method);
      cell(row, "route", e.route, "route-name");
      cell(row, "request id", e.request_id, "rid");
      cell(row, "message", e.message);
      return row;
    }));
  }

  function setLive(ok, epoch) {
    var updated = document.getElementById("updated");
    updated.setAttribute("data-live", ok ? "yes" : "no");
    updated.textContent = ok ? clock(epoch) : "no answer, retrying";
  }

  function poll() {
    fetch(stateUrl, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 401) { window.location.assign("/console"); return null; }
        if (!response.ok) throw new Error("state answered " + response.status);  // busy or restarting
        return response.json();
      })
      .then(function (state) {
        if (!state) return;
        renderService(state.service);
        renderDependencies(state.dependencies);
        renderTraffic(state.traffic);
        renderWorkers(state.workers);
        renderErrors(state.errors);
        setLive(true, state.generated_at);
        root.setAttribute("data-generation", String(Number(root.getAttribute("data-generation") || 0) + 1));
      })
      .catch(function () { setLive(false); })
      .then(function () { window.setTimeout(poll, pollMs); });
  }

  poll();
})();
