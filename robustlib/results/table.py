"""Table 1: test accuracy per method, clean and noisy, against the baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd

from robustlib.results.reference import published_table

MARKS = ("better", "worse", "same")


def mark(diff: float, tolerance: float) -> str:
    """``"same"`` when ``|diff| <= tolerance``, otherwise ``"better"`` or ``"worse"``."""
    if np.isnan(diff):
        return "same"
    if abs(diff) <= tolerance:
        return "same"
    return "better" if diff > 0 else "worse"


def summarise(runs: pd.DataFrame, *, metric: str, rate: float) -> pd.DataFrame:
    """Mean, std (ddof=1) and count of ``metric`` in percent per method at noise ``rate``."""
    selected = runs[np.isclose(runs["noise_rate"], rate)]
    grouped = (selected.groupby("method")[metric].agg(["mean", "std", "count"]) * [100, 100, 1])
    grouped["count"] = grouped["count"].astype(int)
    return grouped


def table_one(
    runs: pd.DataFrame,
    *,
    rate: float,
    methods: tuple[str, ...],
    metric: str = "final_test_accuracy",
    baseline: str = "ce",
) -> pd.DataFrame:
    """Test accuracy (percent) per method, clean and at noise ``rate``, with marks.

    A cell is marked ``"same"`` when its difference to the baseline is within one standard
    deviation (the larger of the method's and the baseline's), as the original study did;
    otherwise ``"better"`` or ``"worse"``. The published differences to the published
    baseline sit beside ours (``published_clean_diff``, ``published_noisy_diff``).

    Returns:
        One row per method in ``methods`` order, indexed by method.
    """
    columns = {}
    for condition, condition_rate in (("clean", 0.0), ("noisy", rate)):
        summary = summarise(runs, metric=metric, rate=condition_rate).reindex(list(methods))
        if baseline not in summary.index or np.isnan(summary.loc[baseline, "mean"]):
            raise ValueError(f"no {baseline!r} run at noise rate {condition_rate}; the table needs the baseline")
        base_mean, base_std = summary.loc[baseline, "mean"], summary.loc[baseline, "std"]
        diff = summary["mean"] - base_mean
        tolerance = np.fmax(summary["std"].fillna(0.0), 0.0 if np.isnan(base_std) else base_std)
        columns[f"{condition}_mean"] = summary["mean"]
        columns[f"{condition}_std"] = summary["std"]
        columns[f"{condition}_n"] = summary["count"]
        columns[f"{condition}_diff"] = diff
        columns[f"{condition}_mark"] = [mark(d, t) for d, t in zip(diff, tolerance)]
    table = pd.DataFrame(columns, index=list(methods))
    published = published_table().reindex(list(methods))
    table["published_clean_diff"] = published["clean_diff"]
    table["published_noisy_diff"] = published["noisy_diff"]
    table.index.name = "method"
    return table


METHOD_LABELS = {
    "ce": "Baseline (cross-entropy)",
    "spl": "Self-paced learning (SPL)",
    "prl": "PRL-L",
    "cce": "Clipped cross-entropy (CCE)",
    "elr": "Early-learning regularisation (ELR)",
    "jsd": "Jensen-Shannon divergence (JSD)",
    "coteaching": "Co-teaching (CT)",
    "mixup": "Mixup",
}


def format_table_one(table: pd.DataFrame, *, rate: float) -> pd.DataFrame:
    """Table 1 as display strings: "mean ± std (diff)" cells and the published differences."""
    noisy_header = f"{round(rate * 100)}% symmetric noise"
    rows = []
    for method, row in table.iterrows():
        cells = {"Method": METHOD_LABELS.get(method, method)}
        for condition, header in (("clean", "clean"), ("noisy", noisy_header)):
            cell = f"{row[f'{condition}_mean']:.2f} ± {row[f'{condition}_std']:.2f}"
            if method != "ce":
                cell += f" ({row[f'{condition}_diff']:+.2f})"
            cells[header] = cell
        cells["published Δ clean"] = "" if method == "ce" else f"{row['published_clean_diff']:+.2f}"
        cells["published Δ noisy"] = "" if method == "ce" else f"{row['published_noisy_diff']:+.2f}"
        rows.append(cells)
    return pd.DataFrame(rows).set_index("Method")


def style_table_one(table: pd.DataFrame, *, rate: float):
    """Style ``format_table_one`` as a pandas Styler: better cells blue, worse cells red."""
    shown = format_table_one(table, rate=rate)
    colours = {"better": "color: #1f5fbf; font-weight: bold", "worse": "color: #c0392b", "same": ""}
    noisy_header = shown.columns[1]

    def colour(column: pd.Series) -> list[str]:
        if column.name == "clean":
            condition = "clean"
        elif column.name == noisy_header:
            condition = "noisy"
        else:
            return [""] * len(column)
        marks = zip(table.index, table[f"{condition}_mark"])
        return ["" if method == "ce" else colours[m] for method, m in marks]

    return shown.style.apply(colour, axis=0)
