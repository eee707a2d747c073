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
  function svgText(svg, x, y, cls, text, anchor) {
    var node = document.createElementNS(SVG, "text");
    node.setAttribute("x", x);
    node.setAttribute("y", y);
    node.setAttribute("text-anchor", anchor || "middle");
    node.setAttribute("class", cls);
    node.textContent = text;
    svg.appendChild(node);
    return node;
  }
  // Bars with their value on top and what they stand for underneath (``axis``, given the characters
  // that fit under a bar); ``units`` (one, many) name the values at the top of the scale.
  function bars(svg, items, axis, value, units, everyLabel) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var max = Math.max(1, Math.max.apply(null, items.map(value)));
    var width = 360 / Math.max(1, items.length);
    function unit(n) { return n === 1 ? units[0] : units[1]; }
    // A 9-unit font is about 5.5 units a character; labels that do not fit skip bars (``everyLabel``)
    // or are shortened, so none overlaps its neighbour.
    var every = everyLabel || 1;
    var room = Math.max(3, Math.floor(width * every / 5.5));
    svgText(svg, 0, 9, "bar-label unit", max + " " + unit(max), "start");
    items.forEach(function (item, i) {
      var h = 105 * value(item) / max;
      var rect = document.createElementNS(SVG, "rect");
      rect.setAttribute("x", i * width + 2);
      rect.setAttribute("y", 135 - h);
      rect.setAttribute("width", Math.max(1, width - 4));
      rect.setAttribute("height", h);
      rect.setAttribute("class", "bar");
      var title = document.createElementNS(SVG, "title");
      title.textContent = axis(item) + ": " + value(item) + " " + unit(value(item));
      rect.appendChild(title);
      svg.appendChild(rect);
      svgText(svg, i * width + width / 2, 131 - h, "bar-label", String(value(item)));
      if (i % every) return;
      // A label for several bars starts where its bar starts: it names when that window began.
      if (every > 1) svgText(svg, i * width + 2, 152, "bar-label axis", axis(item, room), "start");
      else svgText(svg, i * width + width / 2, 152, "bar-label axis", axis(item, room));
    });
  }
  var hourMinute = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
  function render(data) {
    document.getElementById("markets").textContent = "Markets: " + data.markets.map(function (m) { return m.name; }).join(", ");
    bars(document.getElementById("published-chart"), data.published_last_hour,
      function (w) { return hourMinute.format(new Date(w.start)); }, function (w) { return w.published; }, ["deal", "deals"], 3);
    // Product names are long: the chart shows the first twelve, each under its bar, shortened.
    bars(document.getElementById("reach-chart"), data.active.slice(0, 12),
      function (d, room) { return d.product.length > room ? d.product.slice(0, room - 1) + "…" : d.product; },
      function (d) { return d.reached || 0; }, ["shopper", "shoppers"]);
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
