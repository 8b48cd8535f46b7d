"""Sign-in that honours the role tree: a login of a suspended node (or of any node below a suspended
one) cannot authenticate, and its existing sessions stop working (ModelBackend.get_user asks the same)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend


class NodeStatusBackend(ModelBackend):
    def user_can_authenticate(self, user: Any) -> bool:
        from hierarchy.selectors import user_login_allowed

        return super().user_can_authenticate(user) and user_login_allowed(user=user)
