"""Checks: one check run of a project and what it sends (notices, reports, digests), exactly once."""
