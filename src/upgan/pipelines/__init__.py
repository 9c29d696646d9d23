"""Kedro pipelines: thin wiring of the library core."""
