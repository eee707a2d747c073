// Dealcast's service worker: shows a push as a system notification, and opens the deal when tapped.
"use strict";
self.addEventListener("push", function (event) {
  var message = {};
  try { message = event.data ? event.data.json() : {}; } catch (e) { message = { title: event.data.text() }; }
  var title = message.title || "New deals near you";
  event.waitUntil(self.registration.showNotification(title, {
    body: message.body || "",
    // The same notification arriving twice replaces itself instead of showing twice.
    tag: message.tag || undefined,
    data: { url: message.url || "/" },
  }));
});
self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var url = new URL(event.notification.data && event.notification.data.url || "/", self.location.origin).href;
  event.waitUntil(self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (windows) {
    for (var i = 0; i < windows.length; i++) {
      if (windows[i].url.split("?")[0] === url.split("?")[0] && "navigate" in windows[i]) {
        return windows[i].navigate(url).then(function (w) { return w && w.focus(); });
      }
    }
    return self.clients.openWindow(url);
  }));
});
