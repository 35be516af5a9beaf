"""Otklik model package."""
