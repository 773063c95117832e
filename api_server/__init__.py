"""osvos-studio inference API: Flask application factory, job store, Huey queue and embedded workers.

``create_app(settings)`` builds the WSGI app; ``python -m api_server`` serves it with waitress and runs
the worker(s) in the same process. See ``api_server/__main__.py`` for the command line.
"""
from .app import create_app
from .settings import Settings, SettingsError

__all__ = ["create_app", "Settings", "SettingsError"]
