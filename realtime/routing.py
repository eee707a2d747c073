from django.urls import path

from realtime.consumers import DealsConsumer
from realtime.staff_consumer import StaffConsumer

websocket_urlpatterns = [
    path("ws/deals/", DealsConsumer.as_asgi()),
    path("ws/staff/", StaffConsumer.as_asgi()),
]
