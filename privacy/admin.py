from django.contrib import admin

from privacy.models import PrivacyAudit, PrivacyPolicy


@admin.register(PrivacyAudit)
class PrivacyAuditAdmin(admin.ModelAdmin):
    """Read-only: audits change through their task and ``privacy.services`` (audited)."""

    list_display = ("model_version", "attempt", "state", "verdict", "created_at")
    list_filter = ("state", "verdict")

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(PrivacyPolicy)
class PrivacyPolicyAdmin(admin.ModelAdmin):
    list_display = ("project", "updated_at")

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False
