"""Renderers of one results list: terminal table, JSON (more formats later)."""
