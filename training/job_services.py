"""What a training job trains on and how: settings checked up front, then turned into a source and a config.

The admin form and `manage.py training_jobs start` both call `clean_job_settings`,
so a job that starts has settings that were already checked (known
categories, an existing folder): mistakes show up in the form, not minutes
later in a failed job. The job process calls `source_for_settings` and
`config_for_settings` with the stored JSON.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from training.pipeline import TrainConfig
from training.sources import DrawingSource

SOURCE_KINDS = ("quickdraw", "folder", "games")
SOURCE_LABELS = {
    "quickdraw": "Quick, Draw! download (Google's bucket, cached on the server)",
    "folder": "a local folder of <category>.ndjson files on the server",
    "games": "drawings collected from games (minus excluded ones)",
}
MAX_EPOCHS = 200


class JobSettingsError(ValueError):
    """Settings that cannot make a training job; the message says which and why."""


def source_specs(*, sources: list[str], folder: str = "") -> list[str]:
    """The `make_source` specs (`quickdraw:binary`, `folder:PATH`, `games`) for the chosen kinds."""
    specs = []
    for kind in sources:
        if kind == "quickdraw":
            specs.append("quickdraw:binary")
        elif kind == "folder":
            specs.append(f"folder:{folder or settings.QUICKDRAW_SAMPLE_DIR}")
        elif kind == "games":
            specs.append("games")
        else:
            raise JobSettingsError(f"unknown data source {kind!r}; use {', '.join(SOURCE_KINDS)}")
    return specs


def parse_categories(value: str | list[str] | None) -> list[str] | None:
    """None for all; otherwise the names from a list or a comma/newline-separated text, in order, once each."""
    if value is None:
        return None
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
) -> dict:
    """Checked, JSON-ready job settings, or a JobSettingsError naming the problem."""
    if not sources:
        raise JobSettingsError("choose at least one data source")
    sources = list(dict.fromkeys(sources))
    if "folder" in sources:
        folder = str(Path(folder).expanduser()) if folder else str(settings.QUICKDRAW_SAMPLE_DIR)
        path = Path(folder)
        if not path.is_dir():
            raise JobSettingsError(f"the folder {folder} does not exist on the server")
        if not any(path.glob("*.ndjson")):
            raise JobSettingsError(f"the folder {folder} holds no <category>.ndjson files")
    else:
        folder = ""
    if not 1 <= int(epochs) <= MAX_EPOCHS:
        raise JobSettingsError(f"epochs must be between 1 and {MAX_EPOCHS}")
    if per_class is not None and int(per_class) < 1:
        raise JobSettingsError("drawings per category must be at least 1 (or empty for all)")
    chosen = parse_categories(categories)
    specs = source_specs(sources=sources, folder=folder)
    source = _make_source(specs, chosen)
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
    }


def _make_source(specs: list[str], categories: list[str] | None) -> DrawingSource:
    from training.services import make_source

    try:
        return make_source(specs=specs, categories=categories)
    except (FileNotFoundError, ValueError) as exc:
        raise JobSettingsError(str(exc)) from exc


def source_for_settings(*, job_settings: dict) -> DrawingSource:
    """The drawing source a job's stored settings describe."""
    return _make_source(job_settings["specs"], job_settings.get("categories"))


def config_for_settings(*, job_settings: dict) -> TrainConfig:
    """The TrainConfig a job's stored settings describe (unset ones keep TrainConfig's defaults)."""
    config = TrainConfig(
        categories=job_settings.get("categories"),
        per_class=job_settings.get("per_class"),
        epochs=job_settings["epochs"],
        augment=job_settings.get("augment", True),
        batch_size=job_settings.get("batch_size") or 128,
        validation_per_class=job_settings.get("validation_per_class"),
    )
    return config


def describe_settings(job_settings: dict) -> str:
    """One line for lists and logs: sources, categories, drawings per category, epochs, augmentation."""
    cats = job_settings.get("categories")
    cat_text = f"{len(cats)} categories ({', '.join(cats[:5])}{'...' if len(cats) > 5 else ''})" if cats else (
        f"all {job_settings.get('category_count', '?')} categories"
    )
    per = job_settings.get("per_class")
    return (
        f"{' + '.join(job_settings.get('sources', []))}; {cat_text}; "
        f"{per if per else 'all'} drawings per category; {job_settings.get('epochs')} epochs; "
        f"augmentation {'on' if job_settings.get('augment', True) else 'off'}"
    )


def read_log_tail(*, log_path: str, max_bytes: int = 20_000) -> str:
    """The end of a job's log (whole lines), or "" when there is none yet."""
    if not log_path:
        return ""
    path = Path(log_path)
    try:
        with path.open("rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - max_bytes))
            data = fh.read()
    except OSError:
        return ""
    text = data.decode("utf-8", errors="replace")
    if size > max_bytes and "\n" in text:
        text = text.split("\n", 1)[1]
    return text


def format_seconds(seconds: float | None) -> str:
    """"1 h 02 min", "3 min 05 s", "42 s"; "" for unknown."""
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
