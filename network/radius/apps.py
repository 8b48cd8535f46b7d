from django.apps import AppConfig


class RadiusRegistryConfig(AppConfig):
    """The shared ``radius`` schema (NAS registry, FreeRADIUS functions, accounting), in ``public``'s
    database; migrated once, on the public schema only (a SHARED app)."""

    name = "network.radius"
    label = "radius_registry"
    verbose_name = "RADIUS registry"
