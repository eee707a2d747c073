// "Notifications with the page closed": registers the service worker, subscribes this browser to Web
// Push with the server's VAPID key and tells the server (or the reverse), saying what happened.
(function () {
  "use strict";
  var button = document.getElementById("push-toggle");
  var statusEl = document.getElementById("push-status");
  if (!button) return;
  var csrf = document.querySelector("meta[name=csrf-token]").content;
  function say(text) { statusEl.textContent = text; }
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
    say("This browser cannot show notifications with the page closed.");
    return;
  }
  function api(method, body, endpoint) {
    var url = "/api/push/subscriptions/" + (endpoint ? "?endpoint=" + encodeURIComponent(endpoint) : "");
    return fetch(url, {
      method: method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: body ? JSON.stringify(body) : undefined,
    }).then(function (response) {
      if (response.status === 204 || response.status === 201) return null;
      return response.json().then(function (data) {
        if (!response.ok) throw new Error(data.detail || "the server answered " + response.status);
        return data;
      });
    });
  }
  function keyBytes(base64url) {
    var raw = atob(base64url.replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(raw, function (c) { return c.charCodeAt(0); });
  }
  var config = null;
  var registration = null;
  function show(subscription) {
    button.hidden = false;
    button.textContent = subscription ? "Turn off on this browser" : "Turn on for this browser";
    button.dataset.state = subscription ? "on" : "off";
  }
  function turnOn() {
    return Notification.requestPermission().then(function (permission) {
      if (permission !== "granted") {
        say("Notifications are blocked for this site: allow them in the browser's site settings, then try again.");
        return;
      }
      return registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(config.public_key) })
        .then(function (subscription) {
          return api("POST", subscription.toJSON()).then(function () {
            show(subscription);
            say("On for this browser: new deals and price drops near you arrive even with the page closed.");
          });
        }, function (error) {
          say("This browser could not reach its push service (" + error.message + "). Try again later or in another browser.");
        });
    });
  }
  function turnOff() {
    return registration.pushManager.getSubscription().then(function (subscription) {
      if (!subscription) { show(null); return; }
      var endpoint = subscription.endpoint;
      return subscription.unsubscribe().then(function () { return api("DELETE", { endpoint: endpoint }); }).then(function () {
        show(null);
        say("Off for this browser.");
      });
    });
  }
  button.addEventListener("click", function () {
    button.disabled = true;
    (button.dataset.state === "on" ? turnOff() : turnOn()).catch(function (error) {
      say("That did not work: " + error.message);
    }).then(function () { button.disabled = false; });
  });
  Promise.all([navigator.serviceWorker.register("/sw.js"), api("GET")]).then(function (results) {
    registration = results[0];
    config = results[1];
    if (!config.enabled) { say("Push notifications are not set up on this server."); return; }
    // The browser may still hold a subscription that an earlier login turned on: pushes ended with
    // that login, so it counts as on only if the server sends to it for this one.
    return registration.pushManager.getSubscription().then(function (subscription) {
      if (!subscription) { show(null); return; }
      return api("GET", null, subscription.endpoint).then(function (state) { show(state.subscribed ? subscription : null); });
    });
  }).catch(function (error) { say("Notifications are unavailable: " + error.message); });
})();
