from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: nobody edits or deletes audit entries through the application."""

    list_display = ["created_at", "actor_username", "action", "object_type", "object_id", "outcome"]
    list_filter = ["outcome", "action"]
    search_fields = ["actor_username", "action", "object_id"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
