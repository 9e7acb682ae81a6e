"""Operator tools that are not deployed (smoke test of a stage)."""
