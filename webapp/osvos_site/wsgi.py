"""WSGI entry point (waitress in scripts/serve.py, or any WSGI server)."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "osvos_site.settings")
application = get_wsgi_application()
