"""Admin for model versions: metrics, data, settings and plots; compare two; activate; roll back.

Every change goes through `inference.services` (the same functions as
`manage.py activate_model`), so the admin refuses exactly what the command
refuses and records who switched the live model. An activation that must
wait for turns in play to end is shown as pending, with a cancel button.
Plots are streamed by a view that only serves the known plot names from the
version's own folder; the comparison reads only the configured data folders.
"""

from __future__ import annotations

from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme

from inference.errors import ModelVersionError
from inference.models import ModelActivation, ModelVersion, PendingActivation

# The only files the plot view serves: the plots training writes beside a model.
PLOTS = {
    "training_curves.png": "Training curves (loss and accuracy per epoch)",
    "confusions.png": "Most-confused pairs",
    "worst_categories.png": "Worst categories",
}
METRIC_LABELS = {
    "top1": "Top-1 accuracy",
    "top3": "Top-3 accuracy",
    "map3": "MAP@3",
    "early": "Early-guess rate (right from the first half of the strokes)",
}


def _pct(value) -> str:
    return f"{value:.1%}" if isinstance(value, int | float) else "–"


def _size(num: int) -> str:
    return f"{num / 1e6:.2f} MB" if num >= 100_000 else f"{num / 1e3:.0f} kB"


def data_folder_choices() -> list[tuple[str, str]]:
    """The server folders staff may have read (settings.TRAINING_DATA_DIRS): offered, never typed."""
    return [(str(folder), str(folder)) for folder in settings.TRAINING_DATA_DIRS]


def activation_message(result) -> str:
    """What an admin is told after Activate or Roll back (see inference.services.ActivationResult)."""
    if result.live:
        return f"{result.version} is now live: every room switches to it within a second."
    words = ", ".join(result.waiting_for[:10]) + ("..." if len(result.waiting_for) > 10 else "")
    return (
        f"{result.version} will go live as soon as the turns in play that use words it does not know end "
        f"({words}); new turns only offer words it knows. It is pending: cancel it from the model list."
    )


class CompareForm(forms.Form):
    a = forms.ModelChoiceField(ModelVersion.objects.all(), label="Version A")
    b = forms.ModelChoiceField(ModelVersion.objects.all(), label="Version B")
    data = forms.ChoiceField(
        label="Validation data folder",
        choices=[],
        error_messages={"invalid_choice": "Choose one of the configured data folders."},
        help_text="A configured folder of <category>.ndjson (TRAINING_DATA_DIRS); its held-out "
        "drawings (the split training never uses) are scored.",
    )
    scope = forms.ChoiceField(choices=[])
    limit = forms.IntegerField(min_value=1, max_value=200, initial=10, label="Drawings per category")

    def __init__(self, *args, **kwargs):
        from inference.compare import SCOPES

        super().__init__(*args, **kwargs)
        self.fields["scope"].choices = list(SCOPES.items())
        self.fields["data"].choices = data_folder_choices()
        self.fields["data"].initial = str(settings.TRAINING_DATA_DIRS[0]) if settings.TRAINING_DATA_DIRS else ""


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = (
        "name_column",
        "live_column",
        "top1",
        "top3",
        "map3",
        "early",
        "categories_column",
        "per_class_column",
        "size_column",
        "created_by",
        "created_column",
    )
    list_display_links = ("name_column",)
    search_fields = ("name", "created_by")
    actions = ["compare_selected", "activate_selected"]
    change_form_template = "admin/inference/modelversion/change_form.html"
    change_list_template = "admin/inference/modelversion/change_list.html"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "name",
                    "live_column",
                    "created_by",
                    "created_at",
                    "activated_at",
                    "size_column",
                    "file_column",
                    "job_column",
                ]
            },
        ),
        ("Metrics", {"fields": ["metrics_table"]}),
        ("Trained on", {"fields": ["training_data_table", "labels_column"]}),
        ("Training settings", {"fields": ["training_settings_table"]}),
        ("Plots", {"fields": ["plots_column"]}),
        ("Activations", {"fields": ["activations_table"]}),
    ]
    # Every field the page shows is read-only: a version changes only through its actions.
    readonly_fields = [name for _, options in fieldsets for name in options["fields"]]

    class Media:
        css = {"all": ["admin-extra/admin-extra.css"]}

    # --- columns and read-only fields -----------------------------------------------------------

    @admin.display(description="name", ordering="name")
    def name_column(self, v: ModelVersion) -> str:
        return format_html('<span class="ax-nowrap">{}</span> <span class="ax-muted">#{}</span>', v.name, v.pk)

    @admin.display(description="created", ordering="created_at")
    def created_column(self, v: ModelVersion) -> str:
        return timezone.localtime(v.created_at).strftime("%Y-%m-%d %H:%M")

    @admin.display(description="live", ordering="-is_active")
    def live_column(self, v: ModelVersion) -> str:
        if v.is_active:
            return format_html('<span class="ax-badge ax-live" title="serving every room">live</span>')
        if getattr(v, "is_pending", False):
            return format_html(
                '<span class="ax-badge ax-pending" title="goes live when the turns in play end">pending</span>'
            )
        return "shipped default" if v.is_shipped_default else "–"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(is_pending=Exists(PendingActivation.objects.filter(version=OuterRef("pk"))))
        )

    def _metric(self, v: ModelVersion, key: str) -> str:
        return _pct(v.metrics.get(key))

    @admin.display(description="top-1")
    def top1(self, v: ModelVersion) -> str:
        return self._metric(v, "top1")

    @admin.display(description="top-3")
    def top3(self, v: ModelVersion) -> str:
        return self._metric(v, "top3")

    @admin.display(description="MAP@3")
    def map3(self, v: ModelVersion) -> str:
        return self._metric(v, "map3")

    @admin.display(description="early")
    def early(self, v: ModelVersion) -> str:
        return self._metric(v, "early")

    @admin.display(description="categories")
    def categories_column(self, v: ModelVersion) -> int:
        return len(v.labels)

    @admin.display(description="per category")
    def per_class_column(self, v: ModelVersion) -> str:
        per = v.training_data.get("per_class")
        return str(per) if per else ("all" if v.training_data else "–")

    @admin.display(description="size", ordering="size_bytes")
    def size_column(self, v: ModelVersion) -> str:
        return _size(v.size_bytes) if v.size_bytes else "–"

    @admin.display(description="file")
    def file_column(self, v: ModelVersion) -> str:
        ok = v.path.is_file()
        return format_html(
            "<code>{}</code> {}", v.file_path, "" if ok else format_html('<span class="ax-no">missing</span>')
        )

    @admin.display(description="training job")
    def job_column(self, v: ModelVersion) -> str:
        job = v.training_jobs.first()
        if job is None:
            return "–"
        return format_html(
            '<a href="{}">job #{}</a>', reverse("admin:training_trainingjob_change", args=[job.pk]), job.pk
        )

    @admin.display(description="metrics")
    def metrics_table(self, v: ModelVersion) -> str:
        rows = [(label, _pct(v.metrics.get(key))) for key, label in METRIC_LABELS.items()]
        extra = [
            ("validation drawings", v.training_data.get("validation_drawings", v.metrics.get("n", "–"))),
            ("TFLite/Keras agreement", _pct(v.metrics.get("tflite_keras_agreement"))),
            ("training time", f"{v.metrics['train_seconds']:.0f} s" if "train_seconds" in v.metrics else "–"),
            ("epochs run", v.metrics.get("epochs_run", "–")),
        ]
        if "mirror_below" in v.metrics:  # served with the mirror image for unsure drawings (inference.serving)
            extra += [
                ("mirror image asked below", _pct(v.metrics["mirror_below"])),
                ("validation drawings asking it", _pct(v.metrics.get("second_view_share"))),
            ]
        if v.metrics.get("turns"):  # and the drawing turned by these angles (inference.strokes.turned)
            extra.append(("turned views asked too", ", ".join(f"{a:+g}\u00b0" for a in v.metrics["turns"])))
        if "second_network_bytes" in v.metrics:  # the file also carries a second network, asked with the mirror
            extra += [
                ("second network", f"{v.metrics['second_network_bytes'] / 1e6:.2f} MB"),
                ("second network's top-1 alone", _pct(v.metrics.get("second_network_top1"))),
            ]
        body = format_html_join("", "<tr><th>{}</th><td class='ax-num'>{}</td></tr>", rows + extra)
        return format_html('<table class="ax-table ax-metrics ax-kv">{}</table>', body)

    @staticmethod
    def _kv_table(data: dict) -> str:
        if not data:
            return "–"
        rows = [(k.replace("_", " "), "–" if val is None else val) for k, val in data.items() if k != "extra"]
        return format_html(
            '<table class="ax-table ax-kv">{}</table>', format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows)
        )

    @admin.display(description="data")
    def training_data_table(self, v: ModelVersion) -> str:
        return self._kv_table(v.training_data)

    @admin.display(description="categories")
    def labels_column(self, v: ModelVersion) -> str:
        return format_html('<div class="ax-labels"><strong>{}</strong>: {}</div>', len(v.labels), ", ".join(v.labels))

    @admin.display(description="settings")
    def training_settings_table(self, v: ModelVersion) -> str:
        shown = dict(v.training_settings)
        if isinstance(shown.get("categories"), list):
            shown["categories"] = f"{len(shown['categories'])} chosen (listed above)"
        return self._kv_table(shown)

    @admin.display(description="plots")
    def plots_column(self, v: ModelVersion) -> str:
        folder = v.path.parent
        figures = [
            (reverse("admin:inference_modelversion_plot", args=[v.pk, name]), caption, caption)
            for name, caption in PLOTS.items()
            if (folder / name).is_file()
        ]
        if not figures:
            return "No plots were saved with this version."
        return format_html(
            '<div class="ax-plots">{}</div>',
            format_html_join(
                "", '<figure><img src="{}" alt="{}" loading="lazy"><figcaption>{}</figcaption></figure>', figures
            ),
        )

    @admin.display(description="history")
    def activations_table(self, v: ModelVersion) -> str:
        rows = [
            (a.activated_at.strftime("%Y-%m-%d %H:%M:%S"), a.activated_by or "system", str(a.previous or "–"))
            for a in v.activations.select_related("previous")[:20]
        ]
        if not rows:
            return "Never activated."
        return format_html(
            '<table class="ax-table"><thead><tr><th>when</th><th>by</th><th>replaced</th></tr></thead>{}</table>',
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", rows),
        )

    # --- permissions: versions come from training; only activation changes them --------------------

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        """Only versions that never served: deleting one cascades to its activations, the audit trail."""
        if obj is not None and (obj.is_active or obj.is_shipped_default or obj.activations.exists()):
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # bulk delete would skip the per-version check above
        return actions

    def has_activate_permission(self, request) -> bool:
        return request.user.has_perm("inference.change_modelversion")

    # --- pages --------------------------------------------------------------------------------------------

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("compare/", wrap(self.compare_view), name="inference_modelversion_compare"),
            path("rollback/", wrap(self.rollback_view), name="inference_modelversion_rollback"),
            path("pending/cancel/", wrap(self.cancel_pending_view), name="inference_modelversion_cancel_pending"),
            path("<int:version_id>/activate/", wrap(self.activate_view), name="inference_modelversion_activate"),
            path("<int:version_id>/plot/<str:name>", wrap(self.plot_view), name="inference_modelversion_plot"),
            *super().get_urls(),
        ]

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        from inference.selectors import pending_activation

        extra_context = {
            **(extra_context or {}),
            "title": "Model version",
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "can_activate": self.has_activate_permission(request),
            "pending": pending_activation(),
        }
        if object_id and request.method == "POST":
            return HttpResponseNotAllowed(["GET"])  # read-only: activation has its own POST view
        return super().changeform_view(request, object_id, form_url, extra_context)

    def changelist_view(self, request, extra_context=None):
        from inference.selectors import pending_activation

        last = ModelActivation.objects.select_related("version", "previous").first()
        extra_context = {
            **(extra_context or {}),
            "title": "Model versions",
            "last_activation": last,
            "can_activate": self.has_activate_permission(request),
            "pending": pending_activation(),
            "live": ModelVersion.objects.filter(is_active=True).first(),
        }
        return super().changelist_view(request, extra_context)

    def _version(self, request: HttpRequest, version_id) -> ModelVersion:
        version = ModelVersion.objects.filter(pk=version_id).first()
        if version is None:
            raise Http404("no such model version")
        if not self.has_view_permission(request, version):
            raise PermissionDenied
        return version

    def plot_view(self, request: HttpRequest, version_id: int, name: str) -> HttpResponse:
        """Stream one of the known plot files from the version's own folder (never a path from the request)."""
        version = self._version(request, version_id)
        if name not in PLOTS:
            raise Http404("no such plot")
        file = version.path.parent / name
        if not file.is_file():
            raise Http404("this version has no such plot")
        response = FileResponse(file.open("rb"), content_type="image/png")
        response["Cache-Control"] = "private, max-age=300"
        return response

    def _back(self, request: HttpRequest, default: str) -> HttpResponseRedirect:
        target = request.POST.get("next", "")
        if target and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return HttpResponseRedirect(target)
        return HttpResponseRedirect(default)

    def activate_view(self, request: HttpRequest, version_id: int) -> HttpResponse:
        """Make a version live for every room, now or when the turns in play end; a refusal keeps the live model."""
        from inference.services import activate_model_version

        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_activate_permission(request):
            raise PermissionDenied
        version = self._version(request, version_id)
        try:
            result = activate_model_version(version=version, by=request.user.get_username())
        except ModelVersionError as exc:
            messages.error(request, f"{version} was not activated; the live model stays. Reason: {exc}")
        else:
            (messages.success if result.live else messages.warning)(request, activation_message(result))
        return self._back(request, reverse("admin:inference_modelversion_change", args=[version.pk]))

    def cancel_pending_view(self, request: HttpRequest) -> HttpResponse:
        """Drop the activation that waits for turns to end; the live model stays."""
        from inference.services import cancel_pending_activation

        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_activate_permission(request):
            raise PermissionDenied
        cancelled = cancel_pending_activation()
        if cancelled is None:
            messages.info(request, "No activation was pending (it may have gone live meanwhile).")
        else:
            messages.success(
                request, f"The pending activation of {cancelled.version} is cancelled; the live model stays."
            )
        return self._back(request, reverse("admin:inference_modelversion_changelist"))

    def rollback_view(self, request: HttpRequest) -> HttpResponse:
        from inference.services import rollback_model_version

        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_activate_permission(request):
            raise PermissionDenied
        try:
            result = rollback_model_version(by=request.user.get_username())
        except ModelVersionError as exc:
            messages.error(request, f"Not rolled back; the live model stays. Reason: {exc}")
        else:
            if result.live:
                messages.success(request, f"Rolled back: {result.version} is live again.")
            else:
                messages.warning(request, "Rolling back: " + activation_message(result))
        return self._back(request, reverse("admin:inference_modelversion_changelist"))

    def compare_view(self, request: HttpRequest) -> HttpResponse:
        """Two versions on the same held-out drawings, side by side (runs in the request: keep the limit small)."""
        from inference.compare import compare_model_versions

        if not self.has_view_permission(request):
            raise PermissionDenied
        live = ModelVersion.objects.filter(is_active=True).first()
        initial = {"a": request.GET.get("a"), "b": request.GET.get("b") or (live.pk if live else None)}
        form = CompareForm(request.GET if "data" in request.GET else None, initial=initial)
        comparison, error = None, ""
        if form.is_bound and form.is_valid():
            a, b = form.cleaned_data["a"], form.cleaned_data["b"]
            if a.pk == b.pk:
                error = "Choose two different versions."
            else:
                try:
                    comparison = compare_model_versions(
                        versions=[a, b],
                        data_dir=Path(form.cleaned_data["data"]),
                        limit=form.cleaned_data["limit"],
                        scope=form.cleaned_data["scope"],
                    )
                except ModelVersionError as exc:
                    error = str(exc)
        context = {
            **self.admin_site.each_context(request),
            "title": "Compare model versions",
            "opts": self.model._meta,
            "form": form,
            "comparison": comparison,
            "error": error,
            "metric_labels": METRIC_LABELS,
            "can_activate": self.has_activate_permission(request),
            "media": self.media,
        }
        return TemplateResponse(request, "admin/inference/modelversion/compare.html", context)

    # --- list actions --------------------------------------------------------------------------------------

    @admin.action(description="Compare the two selected versions")
    def compare_selected(self, request: HttpRequest, queryset):
        ids = list(queryset.values_list("pk", flat=True)[:3])
        if len(ids) != 2:
            self.message_user(request, "Select exactly two versions to compare.", messages.WARNING)
            return None
        return HttpResponseRedirect(reverse("admin:inference_modelversion_compare") + f"?a={ids[0]}&b={ids[1]}")

    @admin.action(description="Activate the selected version (make it live)", permissions=["activate"])
    def activate_selected(self, request: HttpRequest, queryset):
        from inference.services import activate_model_version

        versions = list(queryset[:2])
        if len(versions) != 1:
            self.message_user(request, "Select exactly one version to activate.", messages.WARNING)
            return None
        try:
            result = activate_model_version(version=versions[0], by=request.user.get_username())
        except ModelVersionError as exc:
            self.message_user(
                request, f"{versions[0]} was not activated; the live model stays. Reason: {exc}", messages.ERROR
            )
        else:
            self.message_user(
                request, activation_message(result), messages.SUCCESS if result.live else messages.WARNING
            )
        return None


@admin.register(ModelActivation)
class ModelActivationAdmin(admin.ModelAdmin):
    """The audit trail: read only."""

    list_display = ("version", "previous", "activated_by", "activated_at")
    list_select_related = ("version", "previous")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
