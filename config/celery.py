"""Celery application. Tasks that touch tenant data take the schema name and activate it explicitly
(see ``tenants.tasks.tenant_task``)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("backhaul")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Tasks that live below an app's top level.
app.autodiscover_tasks(["network.routers"])
