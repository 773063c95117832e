"""The osvos-studio Django project (settings, URLs, WSGI)."""
