"""Expanding suites into cells, running and scoring them, storing and summarizing the results."""
