"""Results: collect finished runs, build Table 1 and the study's figures."""

from robustlib.results.collect import collect_runs
from robustlib.results.reference import PUBLISHED_TABLE_1, published_table
from robustlib.results.table import format_table_one, style_table_one, table_one

__all__ = [
    "PUBLISHED_TABLE_1",
    "collect_runs",
    "format_table_one",
    "published_table",
    "style_table_one",
    "table_one",
]
