#!/usr/bin/env python
"""Django's command-line utility for the osvos-studio site (run from anywhere: `python webapp/manage.py …`)."""
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "osvos_site.settings")
    from django.core.management import execute_from_command_line

    from osvos_site.config import SiteConfig, SiteConfigError

    try:
        SiteConfig.from_env().prepare()
    except SiteConfigError as exc:
        sys.exit(f"configuration error: {exc}")
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
