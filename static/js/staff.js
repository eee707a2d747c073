// The staff dashboard: figures from /api/staff/dashboard/, refreshed when the staff socket says they moved.
(function () {
  "use strict";
  var statusEl = document.getElementById("conn-status");
  var SVG = "http://www.w3.org/2000/svg";
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function row(cells) {
    var tr = el("tr");
    cells.forEach(function (c) { tr.appendChild(el("td", null, String(c))); });
    return tr;
  }
  function bars(svg, items, label, value) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var max = Math.max(1, Math.max.apply(null, items.map(value)));
    var width = 360 / Math.max(1, items.length);
    items.forEach(function (item, i) {
      var h = 130 * value(item) / max;
      var rect = document.createElementNS(SVG, "rect");
      rect.setAttribute("x", i * width + 2);
      rect.setAttribute("y", 140 - h);
      rect.setAttribute("width", Math.max(1, width - 4));
      rect.setAttribute("height", h);
      rect.setAttribute("class", "bar");
      var title = document.createElementNS(SVG, "title");
      title.textContent = label(item) + ": " + value(item);
      rect.appendChild(title);
      svg.appendChild(rect);
      var text = document.createElementNS(SVG, "text");
      text.setAttribute("x", i * width + width / 2);
      text.setAttribute("y", 155);
      text.setAttribute("text-anchor", "middle");
      text.setAttribute("class", "bar-label");
      text.textContent = String(value(item));
      svg.appendChild(text);
    });
  }
  function render(data) {
    document.getElementById("markets").textContent = "Markets: " + data.markets.map(function (m) { return m.name; }).join(", ");
    bars(document.getElementById("published-chart"), data.published_last_hour,
      function (w) { return new Date(w.start).toLocaleTimeString(); }, function (w) { return w.published; });
    bars(document.getElementById("reach-chart"), data.active.slice(0, 24),
      function (d) { return d.product; }, function (d) { return d.reached || 0; });
    var tbody = document.getElementById("active");
    tbody.replaceChildren.apply(tbody, data.active.map(function (d) {
      var tr = row([d.product, d.market, d.price, d.percent_off + "%", d.reached == null ? "— (figures unavailable)" : d.reached]);
      tr.dataset.dealId = String(d.id);
      return tr;
    }));
    var box = document.getElementById("comparisons");
    box.replaceChildren.apply(box, data.comparisons.map(function (c) {
      var div = el("div", "comparison");
      div.appendChild(el("h3", null, c.product));
      div.appendChild(el("p", "muted", c.your_price_rank
        ? "Your price ranks #" + c.your_price_rank + " of " + c.markets_with_it + " markets, by each market's cheapest offer (cheapest " + c.cheapest_price + ")"
        : "Not on offer with you now"));
      div.appendChild(el("p", "muted", "Cheapest five markets:"));
      var list = el("ol");
      c.top.forEach(function (t) { list.appendChild(el("li", t.yours ? "yours" : null, t.market + " · " + t.price + " (−" + t.percent_off + "%)" + (t.yours ? " ← you" : ""))); });
      div.appendChild(list);
      return div;
    }));
  }
  var refreshing = null;
  function refresh() {
    if (refreshing) return;
    refreshing = fetch("/api/staff/dashboard/", { credentials: "same-origin" })
      .then(function (r) { return r.json(); }).then(render)
      .finally(function () { refreshing = null; });
  }
  var failures = 0;
  function connect() {
    var ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/staff/");
    ws.onopen = function () { failures = 0; statusEl.dataset.state = "live"; statusEl.textContent = "Live"; refresh(); };
    ws.onmessage = function () { refresh(); };
    ws.onclose = function () {
      failures += 1;
      statusEl.dataset.state = "reconnecting"; statusEl.textContent = "Reconnecting…";
      setTimeout(connect, Math.min(15000, 500 * Math.pow(2, failures)));
    };
  }
  refresh();
  connect();
})();
