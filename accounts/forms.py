from __future__ import annotations

from django import forms
from django.contrib.auth.forms import UserCreationForm

from accounts.models import User
from discounts.models import Category


class SignupForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("username", "email")


class PreferencesForm(forms.ModelForm):
    categories = forms.ModelMultipleChoiceField(
        queryset=Category.objects.order_by("name"), required=False, widget=forms.CheckboxSelectMultiple,
        help_text="Leave all unticked to see every category.",
    )

    class Meta:
        model = User
        fields = ("home_lat", "home_lng", "radius_km", "categories", "notify_new_deals")
        labels = {
            "home_lat": "Saved latitude",
            "home_lng": "Saved longitude",
            "radius_km": "Radius (km)",
            "notify_new_deals": "Notify me of new deals nearby",
        }
        widgets = {
            "home_lat": forms.NumberInput(attrs={"step": "any"}),
            "home_lng": forms.NumberInput(attrs={"step": "any"}),
            "radius_km": forms.NumberInput(attrs={"step": "0.5", "min": "0.5", "max": "50"}),
        }

    def clean(self):
        cleaned = super().clean()
        lat, lng = cleaned.get("home_lat"), cleaned.get("home_lng")
        if (lat is None) != (lng is None) and not self.errors:
            raise forms.ValidationError("Give both a latitude and a longitude, or neither.")
        return cleaned
