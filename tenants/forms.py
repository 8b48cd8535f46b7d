from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from accounts.models import User
from tenants.services import tenant_slug_validate


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
        # Friendly messages up front; tenant_create checks again and the unique constraints decide.
        try:
            return tenant_slug_validate(str(self.cleaned_data["slug"]))
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["slug"]) from exc

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        password = data.get("admin_password")
        if password and password != data.get("admin_password_again"):
            self.add_error("admin_password_again", "The two passwords differ.")
        elif password:
            candidate = User(email=data.get("admin_email", ""), full_name=data.get("admin_name", ""))
            try:
                validate_password(password, candidate)
            except ValidationError as exc:
                self.add_error("admin_password", exc.messages)
        return data
