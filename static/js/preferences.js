// Pick the saved location on a map; the number fields stay the source of truth for the form.
(function () {
  "use strict";
  var box = document.getElementById("pick-map");
  var lat = document.getElementById("id_home_lat");
  var lng = document.getElementById("id_home_lng");
  var map = L.map(box);
  L.tileLayer(box.dataset.tileUrl, { maxZoom: 19, attribution: "&copy; OpenStreetMap contributors" }).addTo(map);
  var marker = null;
  function place(latlng) {
    if (marker) marker.setLatLng(latlng); else marker = L.marker(latlng).addTo(map);
  }
  if (lat.value && lng.value) { map.setView([+lat.value, +lng.value], 13); place([+lat.value, +lng.value]); }
  else map.setView([52.52, 13.405], 11);
  map.on("click", function (e) {
    lat.value = e.latlng.lat.toFixed(6);
    lng.value = e.latlng.lng.toFixed(6);
    place(e.latlng);
  });
  // The browser asks for permission to notify when the shopper asks to be notified, not before.
  var notify = document.getElementById("id_notify_new_deals");
  if (notify && window.Notification) {
    notify.addEventListener("change", function () {
      if (notify.checked && Notification.permission === "default") Notification.requestPermission();
    });
  }
})();
