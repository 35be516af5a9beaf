"""Otklik serving package."""
