from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

from config import health, metrics_view
from dashboard import views as dashboard_views
from discounts import api as discounts_api
from discounts import views as discounts_views
from notifications import api as notifications_api
from notifications import views as notifications_views
from realtime import api as realtime_api

admin.site.site_header = "Dealcast for markets"
admin.site.site_title = "Dealcast"
admin.site.index_title = "Your market's deals"

api_patterns = [
    path("deals/", discounts_api.DealListView.as_view(), name="deal-list"),
    path("deals/compare/", discounts_api.DealCompareView.as_view(), name="deal-compare"),
    path("deals/top/", discounts_api.DealTopView.as_view(), name="deal-top"),
    path("deals/changes/", realtime_api.ChangesView.as_view(), name="deal-changes"),
    path("deals/<int:pk>/", discounts_api.DealDetailView.as_view(), name="deal-detail"),
    path("markets/", discounts_api.MarketListView.as_view(), name="market-list"),
    path("markets/<int:pk>/", discounts_api.MarketDetailView.as_view(), name="market-detail"),
    path("push/subscriptions/", notifications_api.PushSubscriptionView.as_view(), name="push-subscriptions"),
    path("watches/", notifications_api.WatchListView.as_view(), name="watch-list"),
    path("watches/<int:pk>/", notifications_api.WatchDetailView.as_view(), name="watch-detail"),
    path("staff/dashboard/", dashboard_views.StaffDashboardView.as_view(), name="staff-dashboard"),
    path("discounts/", discounts_api.DiscountCreateView.as_view(), name="discount-create"),
    path("discounts/<int:pk>/", discounts_api.DiscountDetailView.as_view(), name="discount-detail"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularRedocView.as_view(url_name="schema"), name="api-docs"),
]

urlpatterns = [
    path("", discounts_views.live, name="live"),
    path("search/", discounts_views.search, name="search"),
    path("city/", discounts_views.city, name="city"),
    path("deals/<int:pk>/", discounts_views.deal_page, name="deal"),
    path("markets/<int:pk>/", discounts_views.market_page, name="market"),
    path("notifications/", notifications_views.notifications_page, name="notifications"),
    path("notifications/unsubscribe/<str:token>/", notifications_views.digest_unsubscribe, name="digest-unsubscribe"),
    path("sw.js", notifications_views.service_worker, name="service-worker"),
    path("staff/", dashboard_views.dashboard_page, name="staff"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view.metrics, name="metrics"),
    path("accounts/", include("accounts.urls")),
    path("admin/", admin.site.urls),
    path("api/", include(api_patterns)),
]
