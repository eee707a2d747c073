from django.urls import path, re_path

from realtime.consumers import DealsConsumer, UnknownPathConsumer
from realtime.staff_consumer import StaffConsumer

websocket_urlpatterns = [
    path("ws/deals/", DealsConsumer.as_asgi()),
    path("ws/staff/", StaffConsumer.as_asgi()),
    # Last: any other path is refused at the handshake (Channels' router raises a 500 otherwise).
    re_path(r"", UnknownPathConsumer.as_asgi()),
]
