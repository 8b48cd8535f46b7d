"""MikroTik routers of one ISP: jobs, provisioning, import, migration to RADIUS, live view."""
