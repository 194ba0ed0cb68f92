"""rlm-refining: a worked example of a recursion strategy for rlm_bench, outside its package."""

from rlm_refining.strategy import Refining

__all__ = ["Refining"]
