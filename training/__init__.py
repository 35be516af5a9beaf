"""Otklik training package."""
