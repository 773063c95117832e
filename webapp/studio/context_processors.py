from django.conf import settings


def site(request):
    return {"SITE_NAME": "osvos studio", "API_URL": settings.OSVOS_API_URL}
