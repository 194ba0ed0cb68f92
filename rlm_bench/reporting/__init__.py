"""Figures and reports drawn from a run folder."""
