// The live deals page: one socket, a snapshot then events; polling only when the socket can't be held.
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("live-config").textContent);
  var POLL_MS = 3000;
  var PRICE_DROP_SHOWN_MS = 5 * 60000;
  var SOCKET_FAILURES_BEFORE_POLLING = 2;
  var state = {
    deals: new Map(), seenEvents: new Set(), cursor: null, area: null, unseen: new Set(),
    ws: null, failures: 0, pollTimer: null, retryTimer: null, etag: null, mode: "connecting",
  };
  var statusEl = document.getElementById("conn-status");
  var listEl = document.getElementById("deals");
  var noticeEl = document.getElementById("notice");
  var noteEl = document.getElementById("location-note");
  var radiusEl = document.getElementById("radius");
  var sortEl = document.getElementById("sort");
  // On a phone the filters start folded, so the first deals are on the first screen.
  if (window.matchMedia("(max-width: 899px)").matches) document.getElementById("filters").open = false;

  // In the words of the apps people use; the time of the last update says how fresh the list is.
  var STATUS_TEXT = {
    connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…",
    polling: "Updates every few seconds", offline: "Offline: showing the deals you had",
  };
  var retryEl = document.getElementById("conn-retry");
  var clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  function setStatus(mode) {
    state.mode = mode;
    statusEl.dataset.state = mode;
    var text = STATUS_TEXT[mode];
    if (state.updatedAt && mode !== "connecting") text += " · updated " + clock.format(state.updatedAt);
    statusEl.textContent = text;
    retryEl.hidden = !(mode === "polling" || mode === "reconnecting");
  }
  function markUpdated() { state.updatedAt = new Date(); setStatus(state.mode); }

  // Map: markers are added whether or not tiles load, so the deals show offline too.
  var map = L.map("map", { zoomControl: true });
  L.tileLayer(cfg.tile_url, { maxZoom: 19, attribution: "&copy; OpenStreetMap contributors" }).addTo(map);
  var markers = new Map();
  var areaCircle = null;
  var centerMarker = null;
  // Leaflet sizes its drawing layer from the map's box when it starts; the grid settles the box
  // later (and a phone's rotation changes it), which left the radius circle cut off.
  if (window.ResizeObserver) new ResizeObserver(function () { map.invalidateSize(); }).observe(document.getElementById("map"));

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function money(deal, field) { return deal[field] + " " + deal.currency; }
  // The card, in the list and in a market's popup (which names the market once, above its cards).
  function describe(deal, inPopup) {
    var box = el("div", "deal-body");
    box.appendChild(el("strong", "product", deal.product));
    if (!inPopup) {
      var where = el("span", "market", deal.market.name + " · " + deal.market.address + " · ");
      var directions = el("a", "directions", "Directions");
      directions.href = "https://www.openstreetmap.org/directions?to=" + deal.market.lat + "%2C" + deal.market.lng;
      directions.target = "_blank";
      directions.rel = "noopener";
      where.appendChild(directions);
      box.appendChild(where);
    }
    var prices = el("span", "prices");
    prices.appendChild(el("s", "was", money(deal, "original_price")));
    prices.appendChild(document.createTextNode(" "));
    prices.appendChild(el("span", "now", money(deal, "price")));
    prices.appendChild(el("span", "off", " −" + Math.round(deal.percent_off) + "%"));
    if (deal._drop && Date.now() < deal._drop.until) {
      prices.appendChild(el("span", "drop", "Price drop " + deal._drop.was + " → " + deal.price));
    }
    box.appendChild(prices);
    var meta = el("span", "meta", deal.category.name + (deal.distance_km != null ? " · " + deal.distance_km.toFixed(1) + " km" : "") + " · ");
    var details = el("a", "details", "Deal page");
    details.href = "/deals/" + deal.id + "/";
    meta.appendChild(details);
    box.appendChild(meta);
    var ends = new Date(deal.ends_at);
    var endsEl = el("time", "ends", endsText(ends));
    endsEl.dateTime = deal.ends_at;
    box.appendChild(endsEl);
    return box;
  }
  // "ends in 3 h" while it is close, "until Sat 20:00" after that.
  var weekdayTime = new Intl.DateTimeFormat(undefined, { weekday: "short", hour: "2-digit", minute: "2-digit" });
  function endsText(ends) {
    var minutes = Math.round((ends - Date.now()) / 60000);
    if (minutes < 1) return "ending now";
    if (minutes < 60) return "ends in " + minutes + " min";
    if (minutes < 24 * 60) return "ends in " + Math.round(minutes / 60) + " h";
    return "until " + weekdayTime.format(ends);
  }

  function selectedCategories() {
    return Array.prototype.map.call(document.querySelectorAll("input[name=cat]:checked"), function (i) { return i.value; });
  }
  // The server filters by category (by id, so a renamed category keeps matching): only the radius here.
  function inArea(deal) {
    return deal.distance_km == null || deal.distance_km <= state.area.radius_km;
  }

  var SORTS = {
    distance: function (a, b) { return (a.distance_km || 0) - (b.distance_km || 0); },
    price: function (a, b) { return parseFloat(a.price) - parseFloat(b.price); },
    percent_off: function (a, b) { return b.percent_off - a.percent_off; },
  };
  function render() {
    var deals = Array.from(state.deals.values()).sort(SORTS[sortEl.value]);
    var items = deals.map(function (deal) {
      var existing = listEl.querySelector('li[data-deal-id="' + deal.id + '"]');
      var li = el("li", "deal");
      li.dataset.dealId = String(deal.id);
      if (existing && existing.classList.contains("fresh")) li.classList.add("fresh");
      if (deal._flash) { li.classList.add(deal._flash); delete deal._flash; }
      li.appendChild(describe(deal, false));
      if (deal.market.id === state.selectedMarket) li.classList.add("selected");
      li.addEventListener("click", function (ev) {
        if (ev.target.closest("a")) return;
        select(deal.market.id, true);
      });
      return li;
    });
    listEl.replaceChildren.apply(listEl, items);
    if (!items.length) listEl.appendChild(el("li", "empty", "No deals in this area right now."));
    showUnseen();
  }
  // New deals that landed out of sight: a pill says how many and brings them into view.
  var pillEl = document.getElementById("new-deals");
  function outOfSight(node) {
    var box = node.getBoundingClientRect();
    return box.bottom < 0 || box.top > window.innerHeight;
  }
  function unseenItems() {
    return Array.from(state.unseen).map(function (id) {
      return listEl.querySelector('li[data-deal-id="' + id + '"]');
    }).filter(function (node) { return node && outOfSight(node); });
  }
  function showUnseen() {
    Array.from(state.unseen).forEach(function (id) {
      var node = listEl.querySelector('li[data-deal-id="' + id + '"]');
      if (!node || !outOfSight(node)) state.unseen.delete(id);
    });
    var count = state.unseen.size;
    pillEl.hidden = count === 0;
    pillEl.textContent = count === 1 ? "1 new deal ↓" : count + " new deals ↓";
  }
  pillEl.addEventListener("click", function () {
    var first = unseenItems()[0];
    if (first) first.scrollIntoView({ block: "center", behavior: matchMedia("(prefers-reduced-motion: reduce)").matches ? "auto" : "smooth" });
    state.unseen.clear();
    pillEl.hidden = true;
  });
  window.addEventListener("scroll", showUnseen, { passive: true });
  listEl.addEventListener("scroll", showUnseen, { passive: true });
  // Screen readers hear each change once, politely.
  var announceEl = document.getElementById("announce");
  function announce(text) { announceEl.textContent = text; }
  // A card and its market's pin point at each other: choosing one highlights the other.
  function select(marketId, fromList) {
    state.selectedMarket = marketId;
    listEl.querySelectorAll("li.deal").forEach(function (li) {
      var deal = state.deals.get(Number(li.dataset.dealId));
      li.classList.toggle("selected", !!deal && deal.market.id === marketId);
    });
    var marker = markers.get(marketId);
    if (fromList && marker) { marker.openPopup(); }
    if (!fromList) {
      var first = listEl.querySelector("li.deal.selected");
      if (first) first.scrollIntoView({ block: "nearest" });
    }
  }
  // One marker per market; its popup lists that market's deals in the area.
  function marketDeals(marketId) {
    return Array.from(state.deals.values()).filter(function (d) { return d.market.id === marketId; });
  }
  function refreshMarker(market) {
    var deals = marketDeals(market.id);
    var marker = markers.get(market.id);
    if (!deals.length) {
      if (marker) { marker.remove(); markers.delete(market.id); }
      return;
    }
    var cheapest = deals.reduce(function (a, b) { return parseFloat(b.price) < parseFloat(a.price) ? b : a; });
    var label = market.name + " (" + deals.length + (deals.length === 1 ? " deal)" : " deals)");
    var tag = deals.length + " · from " + money(cheapest, "price");
    if (!marker) {
      marker = L.marker([market.lat, market.lng], { title: label, alt: label }).addTo(map);
      marker.on("click", function () { select(market.id, false); });
      marker.bindTooltip(tag, { permanent: true, direction: "top", offset: [-15, -28], className: "pin-label" });
      markers.set(market.id, marker);
    } else {
      marker.setLatLng([market.lat, market.lng]);
      marker.options.title = label;
      // Leaflet reads the title once, when it draws the pin: keep the drawn one current too.
      var icon = marker.getElement();
      if (icon) { icon.title = label; icon.alt = label; }
      marker.setTooltipContent(tag);
    }
    marker.bindPopup(function () {
      var box = el("div", "popup");
      box.appendChild(el("strong", null, market.name));
      box.appendChild(el("div", "muted", market.address));
      marketDeals(market.id).forEach(function (d) { box.appendChild(describe(d, true)); });
      return box;
    }, { maxHeight: 320 });
  }
  function upsertMarker(deal) {
    var previous = state.deals.get(deal.id);
    state.deals.set(deal.id, deal);
    if (previous && previous.market.id !== deal.market.id) refreshMarker(previous.market);
    refreshMarker(deal.market);
  }
  function removeDeal(id) {
    var deal = state.deals.get(id);
    state.deals.delete(id);
    if (deal) refreshMarker(deal.market);
  }
  function replaceAll(deals) {
    Array.from(state.deals.keys()).forEach(removeDeal);
    deals.forEach(upsertMarker);
    render();
    openRequestedDeal();
  }
  // A tapped notification opens /?deal=ID: once the first deals are in, that one is chosen and shown.
  var requestedDeal = Number(new URLSearchParams(location.search).get("deal")) || null;
  function openRequestedDeal() {
    if (!requestedDeal) return;
    var deal = state.deals.get(requestedDeal);
    requestedDeal = null;
    if (!deal) { noteEl.textContent = "The deal you opened is not in this area any more, or has ended."; return; }
    select(deal.market.id, true);
    var card = listEl.querySelector('li.deal[data-deal-id="' + deal.id + '"]');
    card.classList.add("opened");
    card.scrollIntoView({ block: "center" });
  }
  function showNotice(deal) {
    noticeEl.replaceChildren(el("span", null, "New deal nearby: "), el("strong", null, deal.product), el("span", null, " at " + deal.market.name));
    noticeEl.hidden = false;
    clearTimeout(showNotice.timer);
    showNotice.timer = setTimeout(function () { noticeEl.hidden = true; }, 8000);
    if (cfg.notify && document.hidden && window.Notification && Notification.permission === "granted") {
      new Notification("New deal: " + deal.product, { body: deal.market.name + " · " + money(deal, "price") });
    }
  }
  function applyEvent(envelope, distance) {
    if (state.seenEvents.has(envelope.id)) return;
    state.seenEvents.add(envelope.id);
    var deal = envelope.data;
    deal.distance_km = distance;
    var previous = state.deals.get(deal.id);
    var isNew = !previous;
    if ((envelope.type === "discount.published" || envelope.type === "discount.updated") && inArea(deal)) {
      deal._flash = isNew ? "fresh" : "changed";
      if (previous && parseFloat(deal.price) < parseFloat(previous.price)) {
        deal._drop = { was: previous.price, until: Date.now() + PRICE_DROP_SHOWN_MS };
        announce("Price drop: " + deal.product + " now " + money(deal, "price") + " at " + deal.market.name);
      } else if (previous && previous._drop) {
        deal._drop = previous._drop;
      }
      upsertMarker(deal);
      if (isNew && envelope.type === "discount.published") { showNotice(deal); state.unseen.add(deal.id); }
    } else {
      if (previous) announce((envelope.type === "discount.expired" ? "Ended: " : "Withdrawn: ") + previous.product + " at " + previous.market.name);
      removeDeal(deal.id);
    }
    render();
  }

  // Socket
  function subscribeFrame() {
    var frame = { type: "subscribe", lat: state.area.lat, lng: state.area.lng, radius_km: state.area.radius_km, categories: state.area.categories };
    if (state.cursor) frame.after = state.cursor;
    return JSON.stringify(frame);
  }
  // With an area already on screen, the socket's URL carries it and the cursor: the server resumes
  // this view at once instead of first sending the saved location's snapshot.
  function socketUrl() {
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/deals/";
    if (!state.area) return url;
    var query = "?" + areaQuery() + categoriesQuery();
    if (state.cursor) query += "&after=" + encodeURIComponent(state.cursor);
    return url + query;
  }
  function connect() {
    clearTimeout(state.retryTimer);
    if (state.ws && state.ws.readyState <= WebSocket.OPEN) { var old = state.ws; state.ws = null; old.close(); }
    var ws = new WebSocket(socketUrl());
    ws.area = state.area;
    state.ws = ws;
    ws.onopen = function () {
      state.failures = 0;
      stopPolling();
      setStatus("live");
      // The area was chosen (or changed) while the socket was opening: its URL does not carry it.
      if (state.area && state.area !== ws.area) ws.send(subscribeFrame());
    };
    ws.onmessage = function (msg) {
      var frame = JSON.parse(msg.data);
      if (frame.type === "snapshot") { replaceAll(frame.deals); state.cursor = frame.cursor; markUpdated(); }
      else if (frame.type === "event") { applyEvent(frame.event, frame.distance_km); state.cursor = frame.cursor; markUpdated(); }
      else if (frame.type === "error") { noteEl.textContent = frame.message; }
    };
    ws.onclose = function (ev) {
      if (state.ws !== ws) return;
      if (!navigator.onLine) { setStatus("offline"); return; }  // the "online" event reconnects
      // 4008: the server dropped our backlog; come straight back and resume from the cursor.
      if (ev.code === 4008) { setStatus("reconnecting"); state.retryTimer = setTimeout(connect, 100); return; }
      state.failures += 1;
      if (state.failures >= SOCKET_FAILURES_BEFORE_POLLING) startPolling(); else setStatus("reconnecting");
      var delay = Math.min(15000, 500 * Math.pow(2, state.failures)) + Math.random() * 500;
      state.retryTimer = setTimeout(connect, delay);
    };
  }

  // Polling fallback: the changes feed with ETag, resuming from the same cursor as the socket.
  function areaQuery() {
    var a = state.area;
    return "lat=" + a.lat + "&lng=" + a.lng + "&radius_km=" + a.radius_km;
  }
  function categoriesQuery() {
    var cats = state.area.categories;
    return cats && cats.length ? "&categories=" + encodeURIComponent(cats.join(",")) : "";
  }
  async function fetchSnapshot() {
    var head = await (await fetch("/api/deals/changes/?" + areaQuery() + categoriesQuery(), { credentials: "same-origin" })).json();
    var deals = [], url = "/api/deals/?ordering=distance&" + areaQuery() + categoriesQuery();
    while (url && deals.length < 500) {
      var page = await (await fetch(url, { credentials: "same-origin" })).json();
      deals = deals.concat(page.results);
      url = page.next;
    }
    replaceAll(deals.filter(inArea));
    markUpdated();
    state.cursor = head.cursor;
  }
  async function pollOnce() {
    if (!state.area) return;
    if (!state.cursor) { await fetchSnapshot(); return; }
    var headers = state.etag ? { "If-None-Match": state.etag } : {};
    var resp = await fetch("/api/deals/changes/?after=" + encodeURIComponent(state.cursor) + "&" + areaQuery() + categoriesQuery(), { credentials: "same-origin", headers: headers });
    if (resp.status === 304) return;
    state.etag = resp.headers.get("ETag");
    var body = await resp.json();
    if (body.reset) { state.cursor = null; await fetchSnapshot(); return; }
    body.events.forEach(function (item) { applyEvent(item.event, item.distance_km); });
    state.cursor = body.cursor;
    markUpdated();
  }
  function startPolling() {
    if (state.pollTimer) return;
    setStatus("polling");
    var tick = function () { pollOnce().catch(function () {}).finally(function () { if (state.pollTimer) state.pollTimer = setTimeout(tick, POLL_MS); }); };
    state.pollTimer = setTimeout(tick, 0);
  }
  function stopPolling() { clearTimeout(state.pollTimer); state.pollTimer = null; state.etag = null; }

  // Area: browser location when allowed, else the saved one, else a point picked on the map.
  function setArea(lat, lng, why) {
    state.area = { lat: lat, lng: lng, radius_km: parseFloat(radiusEl.value) || cfg.radius_km, categories: selectedCategories() };
    state.cursor = null;
    noteEl.textContent = why;
    map.setView([lat, lng], 13);
    if (areaCircle) areaCircle.remove();
    if (centerMarker) centerMarker.remove();
    areaCircle = L.circle([lat, lng], { radius: state.area.radius_km * 1000, fill: false, weight: 1, className: "area" }).addTo(map);
    // Where the area is measured from: the shopper, the saved place, or the point they picked.
    centerMarker = L.circleMarker([lat, lng], { radius: 7, weight: 2, fillOpacity: 0.9, className: "here" })
      .bindTooltip(why.indexOf("current location") >= 0 ? "You are here" : "Deals are measured from here")
      .addTo(map);
    map.fitBounds(areaCircle.getBounds());
    if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(subscribeFrame());
    else if (state.pollTimer) pollOnce().catch(function () {});
  }
  function refreshArea() { if (state.area) setArea(state.area.lat, state.area.lng, noteEl.textContent); }
  radiusEl.value = cfg.radius_km;
  document.querySelectorAll("input[name=cat]").forEach(function (box) {
    box.checked = cfg.categories.indexOf(box.value) >= 0;
    box.addEventListener("change", refreshArea);
  });
  radiusEl.addEventListener("change", refreshArea);
  sortEl.addEventListener("change", render);
  map.on("click", function (e) { setArea(e.latlng.lat, e.latlng.lng, "Showing deals around the point you picked."); });
  // Without the browser's location the page says so and offers the other ways to choose an area.
  var NO_LOCATION = "Your browser did not share your location. Click the map to pick a place, " +
    "set a saved location in Preferences, or browse the whole city.";
  function locate(asked) {
    if (!navigator.geolocation) { if (asked || !state.area) explainNoLocation(); return; }
    navigator.geolocation.getCurrentPosition(function (pos) {
      setArea(pos.coords.latitude, pos.coords.longitude, "Showing deals around your current location.");
    }, function () { if (asked || !state.area) explainNoLocation(); }, { timeout: 5000, maximumAge: 60000 });
  }
  function explainNoLocation() {
    noteEl.textContent = NO_LOCATION;
    browseEl.hidden = false;
    document.getElementById("filters").open = true;
  }
  var browseEl = document.getElementById("browse-city");
  browseEl.addEventListener("click", function () {
    radiusEl.value = cfg.city.radius_km;
    setArea(cfg.city.lat, cfg.city.lng, "Showing deals across the whole city.");
  });
  document.getElementById("use-location").addEventListener("click", function () { locate(true); });

  window.addEventListener("offline", function () { setStatus("offline"); });
  window.addEventListener("online", function () { state.failures = 0; connect(); });
  retryEl.addEventListener("click", function () { state.failures = 0; connect(); });
  // End times ("ends in 3 h") move with the clock; the deals themselves only change by events.
  setInterval(render, 60000);

  if (cfg.saved) setArea(cfg.saved.lat, cfg.saved.lng, "Showing deals around your saved location.");
  else { map.setView([cfg.city.lat, cfg.city.lng], 11); noteEl.textContent = "Finding your location…"; }
  locate(false);
  connect();
})();
