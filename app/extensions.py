"""Flask extensions, created unbound and attached in the factory."""

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf import CSRFProtect

babel = Babel()
login_manager = LoginManager()
csrf = CSRFProtect()
migrate = Migrate()
# Limits are declared per route (none by default) and counted in Redis, shared by all web processes; bound to the
# app (storage: [redis] url) by app.public.register.
limiter = Limiter(key_func=get_remote_address, default_limits=[], strategy="fixed-window")
