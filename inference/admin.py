from django.contrib import admin

from inference.models import ModelActivation, ModelVersion


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("name", "is_active", "created_at", "size_bytes")
    readonly_fields = ("created_at", "activated_at")


@admin.register(ModelActivation)
class ModelActivationAdmin(admin.ModelAdmin):
    list_display = ("version", "previous", "activated_by", "activated_at")
