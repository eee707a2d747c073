// A visitor's first page: with the browser's location (asked on a click, or used at once where it is
// already allowed), the page comes back with the deals around them, nearest first.
(function () {
  "use strict";
  var button = document.getElementById("near-me");
  var status = document.getElementById("near-status");
  if (!button) return;
  if (!navigator.geolocation) { button.hidden = true; return; }
  function locate() {
    status.textContent = "Finding where you are…";
    navigator.geolocation.getCurrentPosition(function (position) {
      var params = new URLSearchParams({ lat: position.coords.latitude.toFixed(5), lng: position.coords.longitude.toFixed(5) });
      location.assign("/?" + params.toString());
    }, function () {
      status.textContent = "Your browser did not share a location: here are the city's best, or search by product.";
    }, { maximumAge: 300000, timeout: 10000 });
  }
  button.addEventListener("click", locate);
  // Only on the bare first page: "the whole city's best instead" (/?city=all) is the visitor's choice.
  if (navigator.permissions && !location.search) {
    navigator.permissions.query({ name: "geolocation" }).then(function (state) {
      if (state.state === "granted") locate();
    }).catch(function () {});
  }
})();
