// The city page's map: one pin per market with its number of deals and best price; choosing a pin
// highlights that market's rows in the table beside it.
(function () {
  "use strict";
  function data(id) { return JSON.parse(document.getElementById(id).textContent); }
  var pins = data("city-pins");
  var area = data("city-area");
  var map = L.map("map");
  L.tileLayer(data("tile-url"), { maxZoom: 19, attribution: "&copy; OpenStreetMap contributors" }).addTo(map);
  if (window.ResizeObserver) new ResizeObserver(function () { map.invalidateSize(); }).observe(document.getElementById("map"));
  var rows = document.querySelectorAll("tr[data-market-id]");

  function select(marketId) {
    var first = null;
    rows.forEach(function (row) {
      var mine = Number(row.dataset.marketId) === marketId;
      row.classList.toggle("selected", mine);
      if (mine && !first) first = row;
    });
    if (first) first.scrollIntoView({ block: "nearest" });
  }
  function popup(pin) {
    var box = document.createElement("div");
    box.className = "popup";
    var name = document.createElement("a");
    name.href = "/markets/" + pin.id + "/";
    name.textContent = pin.name;
    name.className = "market-link";
    var address = document.createElement("div");
    address.className = "muted";
    address.textContent = pin.address;
    var directions = document.createElement("a");
    directions.textContent = "Directions";
    directions.href = "https://www.openstreetmap.org/directions?to=" + pin.lat + "%2C" + pin.lng;
    directions.target = "_blank";
    directions.rel = "noopener";
    box.append(name, address, directions);
    return box;
  }
  var bounds = [];
  pins.forEach(function (pin) {
    var label = pin.name + " (" + pin.deals + (pin.deals === 1 ? " deal)" : " deals)");
    var marker = L.marker([pin.lat, pin.lng], { title: label, alt: label }).addTo(map);
    marker.bindTooltip(pin.deals + " · from " + pin.best_price, { permanent: true, direction: "top", offset: [-15, -28], className: "pin-label" });
    marker.bindPopup(popup(pin));
    marker.on("click", function () { select(pin.id); });
    bounds.push([pin.lat, pin.lng]);
  });
  if (bounds.length) map.fitBounds(bounds, { padding: [40, 40], maxZoom: 15 });
  else map.setView([area.lat, area.lng], 12);
})();
