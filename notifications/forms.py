from django import forms

from notifications.models import NotificationPreferences


class NotificationPreferencesForm(forms.ModelForm):
    max_per_hour = forms.IntegerField(min_value=1, max_value=30, label="At most this many pushes an hour")

    class Meta:
        model = NotificationPreferences
        fields = ["digest", "quiet_from", "quiet_until", "max_per_hour"]
        labels = {"digest": "E-mail digest", "quiet_from": "Quiet from", "quiet_until": "Quiet until"}
        widgets = {
            "quiet_from": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "quiet_until": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }

    def clean(self):
        data = super().clean()
        if (data.get("quiet_from") is None) != (data.get("quiet_until") is None):
            raise forms.ValidationError("Give both ends of the quiet hours, or neither.")
        if data.get("quiet_from") is not None and data.get("quiet_from") == data.get("quiet_until"):
            raise forms.ValidationError("Quiet hours that start and end at the same time are none: give two times, or neither.")
        return data


class WatchForm(forms.Form):
    text = forms.CharField(max_length=100, label="Product")
    target_price = forms.DecimalField(
        max_digits=10, decimal_places=2, min_value=0.01, required=False, label="At or below (optional)"
    )


class UnwatchForm(forms.Form):
    watch = forms.IntegerField(min_value=1, max_value=2**63 - 1)
