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
  var note = document.getElementById("place-note");
  function choose(latValue, lngValue, why) {
    lat.value = latValue.toFixed(6);
    lng.value = lngValue.toFixed(6);
    place([latValue, lngValue]);
    map.setView([latValue, lngValue], 14);
    note.textContent = why;
  }
  var places = JSON.parse(document.getElementById("places-data").textContent);
  var search = document.getElementById("place-search");
  search.addEventListener("change", function () {
    var found = places.find(function (p) { return p.label === search.value; })
      || places.find(function (p) { return p.label.toLowerCase().indexOf(search.value.trim().toLowerCase()) >= 0; });
    if (found) choose(found.lat, found.lng, "Saved location set near " + found.label + ". Save to keep it.");
    else note.textContent = "No market or street by that name; pick the place on the map instead.";
  });
  document.getElementById("use-current").addEventListener("click", function () {
    if (!navigator.geolocation) { note.textContent = "This browser cannot share its location; pick the place on the map."; return; }
    navigator.geolocation.getCurrentPosition(function (pos) {
      choose(pos.coords.latitude, pos.coords.longitude, "Saved location set to where you are now. Save to keep it.");
    }, function () {
      note.textContent = "Your browser did not share your location; pick the place on the map or find it by name.";
    }, { timeout: 5000 });
  });
  // The browser asks for permission to notify when the shopper asks to be notified, not before.
  var notify = document.getElementById("id_notify_new_deals");
  if (notify && window.Notification) {
    notify.addEventListener("change", function () {
      if (notify.checked && Notification.permission === "default") Notification.requestPermission();
    });
  }
})();
