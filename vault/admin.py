from django.contrib import admin

from vault.models import DataKey


@admin.register(DataKey)
class DataKeyAdmin(admin.ModelAdmin):
    list_display = ["id", "purpose", "master_key_id", "created_at", "destroyed_at"]
    readonly_fields = ["id", "purpose", "parent", "master_key_id", "created_at", "destroyed_at"]
    exclude = ["wrapped_key"]
