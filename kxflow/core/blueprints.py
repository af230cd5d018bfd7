"""The API's blueprints: flask-smorest's, with each arguments schema built once instead of on every request."""

from __future__ import annotations

from functools import cache

import marshmallow as ma
from flask_smorest import Blueprint as SmorestBlueprint
from webargs.flaskparser import FlaskParser


@cache
def _instance(schema: type[ma.Schema]) -> ma.Schema:
    return schema()


class _Parser(FlaskParser):
    """webargs builds a schema given as a class anew for each request, which cost more than parsing the body; a
    marshmallow 4 schema keeps no state between loads, so one instance serves every request and thread."""

    def _get_schema(self, argmap, req) -> ma.Schema:
        if isinstance(argmap, type) and issubclass(argmap, ma.Schema):
            return _instance(argmap)
        return super()._get_schema(argmap, req)


class Blueprint(SmorestBlueprint):
    ARGUMENTS_PARSER = _Parser()
