"""WSGI entry point (waitress in scripts/serve.py, or any WSGI server)."""
import os

from django.core.wsgi import get_wsgi_application

from osvos_site.config import SiteConfig

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "osvos_site.settings")
SiteConfig.from_env().prepare()
application = get_wsgi_application()
