from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings


class SignupForm(forms.Form):
    name = forms.CharField(label="ISP name", max_length=120)
    slug = forms.CharField(
        label="Subdomain", max_length=40,
        help_text=f"Your panel will be at <code>&lt;subdomain&gt;.{settings.PLATFORM_DOMAIN}</code>.",
    )
    admin_name = forms.CharField(label="Your name", max_length=150)
    admin_email = forms.EmailField(label="Your email")
    admin_password = forms.CharField(label="Password", widget=forms.PasswordInput, strip=False)
    admin_password_again = forms.CharField(label="Password again", widget=forms.PasswordInput, strip=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "form-control")

    def clean_slug(self) -> str:
        return str(self.cleaned_data["slug"]).strip().lower()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("admin_password") != data.get("admin_password_again"):
            self.add_error("admin_password_again", "The two passwords differ.")
        return data
