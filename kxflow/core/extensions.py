"""The Flask extensions, created unbound and initialised in ``create_app``."""

from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_wtf.csrf import CSRFProtect

from kxflow.core.errors import http_error_response


class KxflowApi(Api):
    """flask-smorest with our error envelope (and the ``Allow`` header its handler drops on 405)."""

    def handle_http_exception(self, error):
        return http_error_response(error)


api = KxflowApi()
migrate = Migrate()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)
login_manager = LoginManager()
login_manager.login_view = "accounts.login"
login_manager.login_message = None  # the login page says why on its own
