"""Blueprints: jobs, outputs, health, openapi, and the original app's compatibility endpoint."""
