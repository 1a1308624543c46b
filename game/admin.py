from django.contrib import admin

from game.models import Player, Room, Turn


class PlayerInline(admin.TabularInline):
    model = Player
    extra = 0
    fields = ("name", "score", "is_ai", "connections", "left")
    readonly_fields = fields


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ("code", "phase", "is_public", "game_no", "round_no", "created_at")
    list_filter = ("phase", "is_public")
    search_fields = ("code",)
    inlines = [PlayerInline]


@admin.register(Turn)
class TurnAdmin(admin.ModelAdmin):
    list_display = ("word", "drawer_name", "ended_at", "ai_guessed_ms", "excluded_from_training")
    list_filter = ("excluded_from_training",)
    list_editable = ("excluded_from_training",)
    search_fields = ("word", "drawer_name")
    readonly_fields = ("strokes", "ai_timeline", "ai_latest")
