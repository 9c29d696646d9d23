"""Nodes of the weak-supervision report."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from upgan.pipelines.reporting.nodes import summarise_and_test
from upgan.reporting.evaluation_figures import sweep_figure
from upgan.reporting.tables import sweep_tables_markdown


def build_sweep_report(
    metrics_per_subject: pd.DataFrame, uncertainty: pd.DataFrame, budget: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, str, Figure]:
    """Summary, paired tests (UP-GAN vs each method at every patient count), claims (C5 among
    them, with their seed agreement), Tables 2-4 in markdown and the Figure 4 analogue."""
    summary, significance, claims = summarise_and_test(metrics_per_subject, uncertainty)
    text = sweep_tables_markdown(summary, claims, budget)
    figure = sweep_figure(summary, title="Weak supervision: quality against the number of training patients")
    return summary, significance, claims, text, figure
