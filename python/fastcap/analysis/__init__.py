"""Analyses over capture tables (Polars)."""
