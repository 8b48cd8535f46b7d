"""The people every tenant fixture has (see STYLE.md: personas in tests)."""

from __future__ import annotations

from dataclasses import dataclass, field

from accounts.models import User
from tenants.models import Tenant

PASSWORD = "correct-horse-battery-9"


@dataclass
class Isp:
    tenant: Tenant
    admin: User
    host: str
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def schema(self) -> str:
        return self.tenant.schema_name
