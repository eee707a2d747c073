from django.urls import path

from realtime.consumers import DealsConsumer

websocket_urlpatterns = [
    path("ws/deals/", DealsConsumer.as_asgi()),
]
