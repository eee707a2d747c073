"""The socket paths: each app's consumers, wired here as ``config.urls`` wires the pages."""

from django.urls import path, re_path

from dashboard.consumers import StaffConsumer
from realtime.consumers import DealsConsumer, UnknownPathConsumer

websocket_urlpatterns = [
    path("ws/deals/", DealsConsumer.as_asgi()),
    path("ws/staff/", StaffConsumer.as_asgi()),
    # Last: any other path is refused at the handshake (Channels' router raises a 500 otherwise).
    re_path(r"", UnknownPathConsumer.as_asgi()),
]
