"""osvos-studio inference API: Flask application factory, job store, Huey queue and embedded workers.

``create_app(settings)`` builds the WSGI app; ``python -m api_server`` serves it with waitress and runs
the worker(s) in the same process. See ``api_server/__main__.py`` for the command line. The names below load
on first use, so a client importing ``api_server.contract`` loads neither Flask nor the model.
"""
from __future__ import annotations

import importlib

_LAZY = {"create_app": "app", "Settings": "settings", "SettingsError": "settings"}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'api_server' has no attribute {name!r}")
