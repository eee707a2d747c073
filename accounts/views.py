from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.client_address import client_address
from accounts.forms import PreferencesForm, SignupForm
from accounts.services import user_set_preferences, user_signup
from accounts.throttles import signup_counted, signups_left
from discounts.selectors import deals_search
from markets.selectors import places_to_find

# What a visitor sees of the city before an account: its biggest discounts right now.
VISITOR_DEALS = 12


class LoginView(auth_views.LoginView):
    """Django's login, with the city's best deals beside it: a visitor sees what the app offers."""

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "city_deals": deals_search(ordering="-percent_off")[:VISITOR_DEALS]}


@require_http_methods(["GET", "POST"])
def signup(request):
    form = SignupForm(request.POST or None)
    address = client_address(request)
    if request.method == "POST" and not signups_left(address):
        form.add_error(None, "Too many new accounts from your network in the last hour. Try again later.")
        return render(request, "accounts/signup.html", {"form": form}, status=429)
    if request.method == "POST" and form.is_valid():
        user = user_signup(
            username=form.cleaned_data["username"],
            email=form.cleaned_data.get("email", ""),
            password=form.cleaned_data["password1"],
        )
        signup_counted(address)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, "Welcome to Dealcast. Set your location to see deals near you.")
        return redirect("preferences")
    return render(request, "accounts/signup.html", {"form": form}, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request):
    form = PreferencesForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        user_set_preferences(user=request.user, **form.cleaned_data)
        messages.success(request, "Preferences saved.")
        return redirect("preferences")
    context = {"form": form, "tile_url": settings.MAP_TILE_URL, "places": places_to_find()}
    return render(request, "accounts/preferences.html", context, status=400 if form.errors else 200)
