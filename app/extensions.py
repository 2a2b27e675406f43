"""Flask extensions, created unbound and attached in the factory."""
from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf import CSRFProtect

babel = Babel()
login_manager = LoginManager()
csrf = CSRFProtect()
migrate = Migrate()
