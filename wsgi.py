"""The module-level app for `flask`, gunicorn and friends."""

from app import create_app

app = create_app()
