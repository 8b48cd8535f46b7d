"""Work queued against a router, and what was read from routers.

A RouterJob is created by a web request and carried out by a Celery worker (network/routers/tasks.py):
the request never talks to a router. Terminal states carry a finish time, enforced by the database.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from hierarchy import authority


class JobKind(models.TextChoices):
    TEST_CONNECTION = "test_connection", "Test connection"
    PROVISION = "provision", "Provision"
    IMPORT = "import", "Import"
    MIGRATE_TO_RADIUS = "migrate_to_radius", "Migrate to RADIUS"
    LIVE_VIEW = "live_view", "Live view"
    SUBSCRIBER_SUSPEND = "subscriber_suspend", "Suspend subscriber"
    SUBSCRIBER_REACTIVATE = "subscriber_reactivate", "Reactivate subscriber"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


OPEN_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)
TERMINAL_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)
# Jobs that reconfigure the router as a whole: at most one of them open per router at a time.
EXCLUSIVE_KINDS = (JobKind.PROVISION, JobKind.IMPORT, JobKind.MIGRATE_TO_RADIUS)


class RouterJob(models.Model):
    nas = models.ForeignKey("network.Nas", on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=24, choices=JobKind.choices)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    params = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=8)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done")
    progress_message = models.CharField(max_length=200, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    failed_step = models.CharField(max_length=120, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="router_jobs"
    )
    created = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["nas", "status"], name="routerjob_nas_status")]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=JobKind.values), name="routerjob_kind_valid"),
            models.CheckConstraint(condition=Q(status__in=JobStatus.values), name="routerjob_status_valid"),
            models.CheckConstraint(condition=Q(progress__lte=100), name="routerjob_progress_range"),
            models.CheckConstraint(
                condition=Q(status__in=TERMINAL_STATUSES, finished_at__isnull=False)
                | Q(status__in=OPEN_STATUSES, finished_at__isnull=True),
                name="routerjob_finished_iff_terminal",
            ),
            models.UniqueConstraint(
                fields=["nas"],
                condition=Q(status__in=OPEN_STATUSES, kind__in=EXCLUSIVE_KINDS),
                name="routerjob_one_open_reconfiguration",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} on {self.nas_id}: {self.status}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class RouterIpPool(models.Model):
    """An `/ip pool` read from a router by an import, ranges in canonical form."""

    nas = models.ForeignKey("network.Nas", on_delete=models.CASCADE, related_name="ip_pools")
    name = models.CharField(max_length=64)
    ranges = models.TextField()
    size = models.PositiveBigIntegerField()
    next_pool = models.CharField(max_length=64, blank=True)
    imported_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["nas", "name"], name="routerippool_unique_per_router")]

    def __str__(self) -> str:
        return f"{self.name}: {self.ranges}"


class RouterSnapshot(models.Model):
    """A CSV copy of one menu as a job read it, encrypted (PPP secrets carry passwords)."""

    job = models.ForeignKey(RouterJob, on_delete=models.CASCADE, related_name="snapshots")
    menu = models.CharField(max_length=40)
    rows = models.PositiveIntegerField()
    csv_encrypted = models.TextField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "menu"], name="routersnapshot_unique_menu")]

    def __str__(self) -> str:
        return f"{self.menu} ({self.rows} rows) of job {self.job_id}"


# The scope gate (hierarchy.authority.restrict): a job, a pool or a copy belongs to its router's owner.
authority.scoped(RouterJob, path_field="nas__owner__path")
authority.scoped(RouterIpPool, path_field="nas__owner__path")
authority.scoped(RouterSnapshot, path_field="job__nas__owner__path")
