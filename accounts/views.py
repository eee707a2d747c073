from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from kombu.exceptions import OperationalError as BrokerUnavailable

from accounts import services
from accounts.client_address import client_address
from accounts.forms import PreferencesForm, SignupForm
from accounts.services import user_set_preferences, user_signup
from accounts.throttles import password_reset_allowed, signup_counted, signups_left, verification_mail_allowed
from discounts.selectors import deals_search
from markets.selectors import places_to_find

# What a visitor sees of the city before an account: its biggest discounts right now.
VISITOR_DEALS = 12


class LoginView(auth_views.LoginView):
    """Django's login, with the city's best deals beside it: a visitor sees what the app offers."""

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "city_deals": deals_search(ordering="-percent_off")[:VISITOR_DEALS]}


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset form, with the mail sent by the worker and the requests counted.

    The page answers alike, and as fast, whether or not the address has an account; a limit reached
    is said the same way for every address.
    """

    def form_valid(self, form):
        email = form.cleaned_data["email"]
        if not password_reset_allowed(email=email, client=client_address(self.request)):
            form.add_error(None, "Too many reset requests for this address or from your network. Try again in an hour.")
            return self.render_to_response(self.get_context_data(form=form), status=429)
        try:
            services.password_reset_request(email=email)
        except BrokerUnavailable:
            form.add_error(None, "Mail cannot be sent right now. Try again in a few minutes.")
            return self.render_to_response(self.get_context_data(form=form), status=503)
        return HttpResponseRedirect(self.get_success_url())


@never_cache
@require_GET
def verify_email(request, token: str):
    """The link mailed to a new address: following it proves the address is the account's."""
    try:
        user = services.email_verify(token=token)
    except services.EmailNotVerified as exc:
        return render(request, "registration/verify_email_done.html", {"problem": str(exc)}, status=400)
    return render(request, "registration/verify_email_done.html", {"email": user.email})


@login_required
@require_POST
def verify_email_again(request):
    user = request.user
    if not user.email or user.email_verified:
        messages.info(request, "There is no address to verify.")
    elif not verification_mail_allowed(user_id=user.pk):
        messages.error(request, "We sent the link several times this hour already: look in your spam folder, or try later.")
    else:
        services.email_verification_request(user=user)
        messages.success(request, f"We sent a new link to {user.email}.")
    return redirect("notifications")


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
