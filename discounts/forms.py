from django import forms

from discounts.selectors import ORDERINGS, categories_all
from markets.geo import MAX_RADIUS_KM, MIN_RADIUS_KM


class SearchForm(forms.Form):
    q = forms.CharField(label="Product", required=False, max_length=200)
    category = forms.ModelChoiceField(
        queryset=categories_all(), required=False, to_field_name="slug", empty_label="All categories"
    )
    ordering = forms.ChoiceField(
        choices=[("", "Best match"), ("distance", "Closest"), ("price", "Cheapest"), ("-percent_off", "Biggest discount")],
        required=False,
    )
    lat = forms.FloatField(required=False, min_value=-90, max_value=90, widget=forms.HiddenInput)
    lng = forms.FloatField(required=False, min_value=-180, max_value=180, widget=forms.HiddenInput)
    radius_km = forms.FloatField(required=False, min_value=MIN_RADIUS_KM, max_value=MAX_RADIUS_KM, label="Within (km)")

    def clean_ordering(self):
        value = self.cleaned_data.get("ordering")
        return value if value in ORDERINGS else None
