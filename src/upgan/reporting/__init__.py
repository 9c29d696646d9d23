"""Figures and tables (matplotlib; no Kedro imports)."""
