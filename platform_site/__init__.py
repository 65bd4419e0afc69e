"""Soberana's Django project package: wiring only (settings, URLs, Celery app, WSGI/ASGI).

The design card called this package ``platform``; that name shadows Python's standard
``platform`` module, which Django, Celery and many libraries import, so it is ``platform_site``.
"""

from platform_site.celery import app as celery_app

__all__ = ["celery_app"]
