"""FreeRADIUS 3.2 side of Backhaul: the shared ``radius`` schema and a generated server config.

``sql`` holds the shared-schema DDL and every query FreeRADIUS runs; ``tenant_sql`` the per-tenant
views; ``config``/``sites`` write a standalone config directory for ``freeradius -f -d DIR``;
``coa`` sends RFC 5176 requests (through the egress guard, which reads Django settings). The others
are plain Python (no Django import). The package is also the
SHARED Django app ``radius_registry`` (``apps.py``, ``migrations/``) that creates the schema.
"""
