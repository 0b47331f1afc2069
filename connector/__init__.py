"""Connector core."""
