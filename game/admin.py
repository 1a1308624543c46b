"""Admin for rooms and the drawings games store (each Drawing is a labelled drawing for training).

The drawing list is where bad data is weeded out: every drawing is shown as a
small SVG (bounded, game.thumbnails) next to its word and the AI's final guesses, and "exclude from
training" keeps it out of the `games` training source.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import F, Q
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from game import thumbnails
from game.models import Drawing, Player, Room


class PlayerInline(admin.TabularInline):
    model = Player
    extra = 0
    fields = ("name", "connections", "left", "joined_at")
    readonly_fields = fields


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ("code", "mode", "phase", "is_public", "version", "created_at")
    list_filter = ("mode", "phase", "is_public")
    search_fields = ("code",)
    readonly_fields = ("code", "mode", "phase", "is_public", "version", "revision", "wakeup_at", "empty_since", "state")
    exclude = ()
    inlines = [PlayerInline]


def ai_was_right(drawing: Drawing) -> bool:
    """The AI named the word (it scored, or recognised it), or its final top guess is the word."""
    top = drawing.ai_latest[0][0] if drawing.ai_latest and drawing.ai_latest[0] else None
    return drawing.recognised_ms is not None or (bool(drawing.word) and top == drawing.word)


class AIRightFilter(admin.SimpleListFilter):
    title = "AI guessed it"
    parameter_name = "ai_right"

    def lookups(self, request, _model_admin):
        return [("yes", "yes"), ("no", "no")]

    def queryset(self, request, queryset):
        # The same rule as ai_was_right, in SQL: it scored, or its final top label is the word.
        top = queryset.annotate(_top=KeyTextTransform("0", KeyTransform("0", "ai_latest")))
        if self.value() == "yes":
            return top.filter(Q(recognised_ms__isnull=False) | Q(_top=F("word")))
        if self.value() == "no":
            return top.filter(recognised_ms__isnull=True).filter(Q(_top__isnull=True) | ~Q(_top=F("word")))
        return queryset


@admin.register(Drawing)
class DrawingAdmin(admin.ModelAdmin):
    list_display = ("thumbnail", "word", "ai_guesses", "ai_right", "owner_name", "ended_at", "excluded_from_training")
    list_display_links = ("thumbnail", "word")
    list_filter = ("excluded_from_training", AIRightFilter, "turn__mode", "turn__ended_at")
    list_editable = ("excluded_from_training",)
    search_fields = ("word", "owner_name")
    actions = ["exclude_from_training", "include_in_training"]
    list_per_page = 50
    fields = (
        "drawing",
        "word",
        "owner_name",
        "turn",
        "ended_at",
        "ai_guesses",
        "ai_right",
        "recognised_ms",
        "timeline",
        "excluded_from_training",
    )
    readonly_fields = fields[:-1]  # all but the last, excluded_from_training, which staff edit

    class Media:
        css = {"all": ["admin-extra/admin-extra.css"]}

    def has_add_permission(self, request) -> bool:
        return False  # drawings come from games

    def get_queryset(self, request):
        # The list never loads drawings (one may hold 20,000 points): each thumbnail is a small SVG by URL.
        return (
            super()
            .get_queryset(request)
            .exclude(word="")
            .select_related("turn")
            .defer("strokes", "stroke_widths", "stroke_colors")
        )

    @admin.display(description="ended", ordering="turn__ended_at")
    def ended_at(self, drawing: Drawing):
        return drawing.turn.ended_at

    @admin.display(description="drawing")
    def thumbnail(self, drawing: Drawing) -> str:
        return format_html(
            '<img class="ax-drawing" src="{}" width="72" height="72" alt="" loading="lazy">',
            reverse("admin_drawing_svg", args=[drawing.pk]),
        )

    @admin.display(description="drawing")
    def drawing(self, drawing: Drawing) -> str:
        return mark_safe(thumbnails.drawing_svg(drawing.strokes, size=320, css_class="ax-drawing"))  # numbers only

    @admin.display(description="AI's final guesses")
    def ai_guesses(self, drawing: Drawing) -> str:
        guesses = [(g[0], f"{float(g[1]):.0%}") for g in drawing.ai_latest or [] if len(g) >= 2]
        if not guesses:
            return "–"
        return format_html_join(", ", "{} ({})", guesses)

    @admin.display(description="AI right?", boolean=True)
    def ai_right(self, drawing: Drawing) -> bool:
        return ai_was_right(drawing)

    @admin.display(description="AI timeline")
    def timeline(self, drawing: Drawing) -> str:
        rows = [
            (f"{entry.get('ms', 0) / 1000:.1f} s", ", ".join(str(g[0]) for g in entry.get("guesses", [])))
            for entry in drawing.ai_timeline or []
        ]
        return format_html_join("", "<div>{}: {}</div>", rows) if rows else "–"

    @admin.action(description="Exclude the selected drawings from training")
    def exclude_from_training(self, request, queryset):
        n = queryset.update(excluded_from_training=True)
        self.message_user(request, f"{n} drawings excluded from training.")

    @admin.action(description="Use the selected drawings for training again")
    def include_in_training(self, request, queryset):
        n = queryset.update(excluded_from_training=False)
        self.message_user(request, f"{n} drawings used for training again.")
