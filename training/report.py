"""The training report's per-category figures and plots (the metrics themselves: inference.evaluation)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def per_category_accuracy(pred: np.ndarray, labels: np.ndarray, categories: list[str]) -> dict[str, float]:
    out = {}
    for i, c in enumerate(categories):
        mask = labels == i
        if mask.any():
            out[c] = float((pred[mask] == i).mean())
    return out


def confused_pairs(pred: np.ndarray, labels: np.ndarray, categories: list[str], top: int = 20) -> list[dict]:
    n = len(categories)
    counts = np.zeros((n, n), dtype=np.int64)
    np.add.at(counts, (labels, pred), 1)
    np.fill_diagonal(counts, 0)
    flat = np.argsort(-counts, axis=None)[:top]
    pairs = []
    for f in flat:
        i, j = divmod(int(f), n)
        if counts[i, j] == 0:
            break
        pairs.append({"true": categories[i], "predicted": categories[j], "count": int(counts[i, j])})
    return pairs


def write_plots(out_dir: Path, history: dict, per_category: dict[str, float], pairs: list[dict]) -> list[str]:
    """PNG plots: training curves, worst categories, most-confused pairs. Returns file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    if history:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for key in ("loss", "val_loss"):
            if key in history:
                axes[0].plot(history[key], marker="o", label=key)
        for key in ("accuracy", "val_accuracy", "top3", "val_top3"):
            if key in history:
                axes[1].plot(history[key], marker="o", label=key)
        axes[0].set_title("loss")
        axes[1].set_title("accuracy")
        for ax in axes:
            ax.set_xlabel("epoch")
            ax.legend()
        fig.tight_layout()
        fig.savefig(out_dir / "training_curves.png", dpi=90)
        plt.close(fig)
        written.append("training_curves.png")
    if per_category:
        worst = sorted(per_category.items(), key=lambda kv: kv[1])[:25]
        fig, ax = plt.subplots(figsize=(7, 7))
        ax.barh([k for k, _ in worst][::-1], [v for _, v in worst][::-1])
        ax.set_title("worst categories (top-1 on validation)")
        fig.tight_layout()
        fig.savefig(out_dir / "worst_categories.png", dpi=90)
        plt.close(fig)
        written.append("worst_categories.png")
    if pairs:
        top = pairs[:20]
        fig, ax = plt.subplots(figsize=(8, 7))
        ax.barh([f"{p['true']} -> {p['predicted']}" for p in top][::-1], [p["count"] for p in top][::-1])
        ax.set_title("most-confused pairs (true -> predicted)")
        fig.tight_layout()
        fig.savefig(out_dir / "confusions.png", dpi=90)
        plt.close(fig)
        written.append("confusions.png")
    return written


def write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
