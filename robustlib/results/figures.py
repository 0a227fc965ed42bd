"""The study's figures, each drawn from collected runs (see ``collect_runs``)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator
import pandas as pd

from robustlib.results.table import METHOD_LABELS

SELECTING_METHODS = ("spl", "prl", "cce", "coteaching")


def _at_rate(frame: pd.DataFrame, rate: float) -> pd.DataFrame:
    return frame[np.isclose(frame["noise_rate"], rate)]


def _band(ax, history: pd.DataFrame, column: str, label: str, **style) -> None:
    """Draw the mean over seeds per epoch as a line and ± one std as a band."""
    stats = history.groupby("epoch")[column].agg(["mean", "std"]) * 100
    line = ax.plot(stats.index, stats["mean"], label=label, **style)[0]
    ax.fill_between(stats.index, stats["mean"] - stats["std"].fillna(0), stats["mean"] + stats["std"].fillna(0),
                    color=line.get_color(), alpha=0.15, linewidth=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def baseline_curves(history: pd.DataFrame, *, rate: float):
    """Plot the baseline's validation accuracy on non-corrupted examples per epoch, clean vs noisy."""
    fig, ax = plt.subplots(figsize=(6.4, 4))
    baseline = history[history["method"] == "ce"]
    _band(ax, _at_rate(baseline, 0.0), "val_clean_subset_accuracy", "clean labels")
    _band(ax, _at_rate(baseline, rate), "val_clean_subset_accuracy", f"{round(rate * 100)}% symmetric noise")
    ax.set(xlabel="epoch", ylabel="validation accuracy, non-corrupted examples [%]",
           title="Cross-entropy baseline")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _per_method_bands(history: pd.DataFrame, *, rate: float, methods: tuple[str, ...], column: str,
                      ylabel: str, title: str, width: float = 7.0):
    """Plot ``column`` per epoch under noise ``rate``, one band per method, the baseline in black."""
    fig, ax = plt.subplots(figsize=(width, 4.5))
    noisy = _at_rate(history, rate)
    for method in methods:
        style = {"color": "black", "linewidth": 2.5} if method == "ce" else {}
        _band(ax, noisy[noisy["method"] == method], column, METHOD_LABELS.get(method, method), **style)
    ax.set(xlabel="epoch", ylabel=ylabel, title=title)
    ax.legend(fontsize=8, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def method_curves(history: pd.DataFrame, *, rate: float, methods: tuple[str, ...]):
    """Plot every method's validation accuracy on non-corrupted examples per epoch under noise."""
    return _per_method_bands(
        history,
        rate=rate,
        methods=methods,
        column="val_clean_subset_accuracy",
        ylabel="validation accuracy, non-corrupted examples [%]",
        title=f"All methods, {round(rate * 100)}% symmetric noise",
        width=7.5,
    )


def noise_sweep(runs: pd.DataFrame, *, methods: tuple[str, ...], metric: str = "final_test_accuracy"):
    """Plot test accuracy against noise rate, one line per method (mean over the seeds present)."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for method in methods:
        stats = runs[runs["method"] == method].groupby("noise_rate")[metric].mean() * 100
        style = {"color": "black", "linewidth": 2.5} if method == "ce" else {}
        ax.plot(stats.index * 100, stats.values, marker="o", label=METHOD_LABELS.get(method, method), **style)
    ax.set(xlabel="share of corrupted training and validation labels [%]", ylabel="test accuracy [%]",
           title="Test accuracy against noise rate")
    ax.legend(fontsize=8, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def memorisation(history: pd.DataFrame, *, rate: float, methods: tuple[str, ...]):
    """Plot the share of corrupted training examples predicted as their noisy label, per epoch."""
    return _per_method_bands(
        history,
        rate=rate,
        methods=methods,
        column="train_corrupted_noisy_share",
        ylabel="corrupted training examples\npredicted as their noisy label [%]",
        title="Memorisation of the wrong labels",
    )


def detection(history: pd.DataFrame, *, rate: float, methods: tuple[str, ...] = SELECTING_METHODS):
    """Plot precision and recall of the selecting methods' dropped examples as noise detectors."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    noisy = _at_rate(history, rate)
    for method in methods:
        subset = noisy[noisy["method"] == method]
        if subset.empty or subset["selection_precision"].isna().all():
            continue
        label = METHOD_LABELS.get(method, method)
        _band(axes[0], subset, "selection_precision", label)
        _band(axes[1], subset, "selection_recall", label)
    axes[0].set(xlabel="epoch", ylabel="[%]", title="precision: dropped examples that were corrupted")
    axes[1].set(xlabel="epoch", title="recall: corrupted examples that were dropped")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def early_stopping(runs: pd.DataFrame, *, rate: float, methods: tuple[str, ...]):
    """Plot final-model and best-validation-epoch test accuracy per method under noise."""
    noisy = _at_rate(runs, rate)
    stats = noisy.groupby("method")[["final_test_accuracy", "best_test_accuracy"]].mean().reindex(list(methods)) * 100
    fig, ax = plt.subplots(figsize=(8, 4))
    positions = np.arange(len(methods))
    ax.bar(positions - 0.2, stats["final_test_accuracy"], width=0.4, label="final model")
    ax.bar(positions + 0.2, stats["best_test_accuracy"], width=0.4, label="best noisy-validation epoch")
    ax.set_xticks(positions, [m for m in methods], rotation=0)
    low = np.nanmin(stats.values) if np.isfinite(stats.values).any() else 0
    ax.set_ylim(max(0, low - 5), None)
    ax.set(ylabel="test accuracy [%]", title=f"Early stopping, {round(rate * 100)}% symmetric noise")
    ax.legend()
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig
