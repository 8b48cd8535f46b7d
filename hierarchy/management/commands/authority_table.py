"""Print the role x action table (hierarchy.authority) as Markdown, as the README shows it."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from hierarchy.authority import table_markdown


class Command(BaseCommand):
    help = "Print the role x action table as Markdown."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(table_markdown(), ending="")
