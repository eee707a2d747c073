// A deal's or a market's page: the market on a small map, and a share button (the system's share
// sheet where there is one, else the link copied).
(function () {
  "use strict";
  function data(id) { return JSON.parse(document.getElementById(id).textContent); }
  var place = data("place");
  var map = L.map("map", { scrollWheelZoom: false }).setView([place.lat, place.lng], 15);
  L.tileLayer(data("tile-url"), { maxZoom: 19, attribution: "&copy; OpenStreetMap contributors" }).addTo(map);
  var label = place.name + ", " + place.address;
  L.marker([place.lat, place.lng], { title: label, alt: label }).addTo(map).bindPopup(label);

  var button = document.getElementById("share");
  var status = document.getElementById("share-status");
  button.addEventListener("click", function () {
    var link = { title: button.dataset.title, url: button.dataset.url };
    if (navigator.share) {
      navigator.share(link).catch(function () {});
    } else if (navigator.clipboard) {
      navigator.clipboard.writeText(link.url).then(
        function () { status.textContent = "Link copied."; },
        function () { status.textContent = link.url; }
      );
    } else {
      status.textContent = link.url;
    }
  });
})();
