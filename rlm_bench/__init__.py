"""rlm_bench: context rot, and Recursive Language Models vs long-context prompting."""

__version__ = "0.1.0"
