from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from notifications import selectors, services
from notifications.digest import preferences_from_unsubscribe_token
from notifications.forms import NotificationPreferencesForm, UnwatchForm, WatchForm

SERVICE_WORKER = Path(settings.BASE_DIR) / "static" / "js" / "sw.js"


@require_GET
def service_worker(request):
    """The service worker, served from the site's root so that its scope is the whole site."""
    response = HttpResponse(SERVICE_WORKER.read_bytes(), content_type="text/javascript")
    response["Cache-Control"] = "no-cache"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def notifications_page(request):
    """Push on this browser, the watch list, the digest and quiet hours, on one page."""
    user = request.user
    prefs_form = NotificationPreferencesForm(instance=selectors.preferences_of(user))
    watch_form = WatchForm()
    action = request.POST.get("action")
    if action == "preferences":
        prefs_form = NotificationPreferencesForm(request.POST, instance=selectors.preferences_of(user))
        if prefs_form.is_valid():
            try:
                services.notification_preferences_set(user=user, **prefs_form.cleaned_data)
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    prefs_form.add_error(field if field in prefs_form.fields else None, errors)
            else:
                messages.success(request, "Notification settings saved.")
                return redirect("notifications")
    elif action == "watch":
        watch_form = WatchForm(request.POST)
        if watch_form.is_valid():
            try:
                watch = services.watch_add(user=user, **watch_form.cleaned_data)
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    watch_form.add_error(field if field in watch_form.fields else None, errors)
            else:
                messages.success(request, f"Watching “{watch.text}”.")
                return redirect("notifications")
    elif action == "unwatch":
        unwatch = UnwatchForm(request.POST)
        if unwatch.is_valid():
            services.watch_remove(user=user, watch_id=unwatch.cleaned_data["watch"])
        return redirect("notifications")
    failed = prefs_form.errors or watch_form.errors
    context = {
        "prefs_form": prefs_form, "watch_form": watch_form, "watches": selectors.watches_of(user),
        "browsers": selectors.browsers_of(user).count(), "has_saved_location": user.has_saved_location,
    }
    return render(request, "notifications/page.html", context, status=400 if failed else 200)


@csrf_exempt  # the signed token is the authority; mail clients POST here without a page (RFC 8058)
@never_cache
@require_http_methods(["GET", "POST"])
def digest_unsubscribe(request, token: str):
    """One click from the digest: says which subscription it ends, never whose account it is."""
    prefs = preferences_from_unsubscribe_token(token)
    if prefs is None:
        return render(request, "notifications/unsubscribe.html", {"invalid": True}, status=404)
    if request.method == "POST":
        services.digest_unsubscribe(user=prefs.user)
        return render(request, "notifications/unsubscribe.html", {"done": True})
    return render(request, "notifications/unsubscribe.html", {})
