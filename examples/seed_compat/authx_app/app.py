"""The authx tutorial app (Middleware > Example): Starlette, ``authx.MiddlewareOauth2`` and a SQLAlchemy token table.

Kept as the tutorial writes it. Only what it needs to run was filled in: the lines the published page lost
(the table's name and ``MetaData``, ``create``/``prepare``, the ``flush`` calls, the ``filter`` column, the
``add_middleware(AuthenticateMiddleware, ...)`` call, the ``@app.route`` decorators, ``uvicorn.run``), both
code blocks in one file, and ``HOST``/``PORT`` read from the environment like the other settings.

Settings come from the environment (or ``.env.sample``): SERVER_METADATA_URL, CLIENT_ID, CLIENT_SECRET,
SECRET_KEY, DATABASE_URL, and HOST/PORT (default localhost:5001). Run it with ``python app.py`` inside an
environment built from ``../requirements-authx.txt`` (authx 0.9.1 needs old pins: see that file).
"""

import typing

from sqlalchemy import JSON, Column, MetaData, String, Table, create_engine
from sqlalchemy.ext.automap import automap_base
from sqlalchemy.orm import create_session
from starlette.applications import Starlette
from starlette.config import Config
from starlette.datastructures import Secret
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import JSONResponse

from authx import MiddlewareOauth2

config = Config(".env.sample")


class DB:
    def __init__(self) -> None:
        self._engine = create_engine(config("DATABASE_URL"))
        _metatable = Table(
            "users",
            MetaData(bind=self._engine),
            Column("id", String, primary_key=True, nullable=False),
            Column("token", JSON),
        )
        _metatable.create(checkfirst=True)

        Base = automap_base(metadata=_metatable.metadata)
        Base.prepare()

        self._session = create_session(bind=self._engine)
        self._User = Base.classes.users

    def put(self, user_id: str, token: typing.Dict[str, typing.Any]) -> None:
        self._session.merge(self._User(id=user_id, token=dict(token)))
        self._session.flush()

    def get(self, user_id: str) -> typing.Optional[typing.Dict[str, typing.Any]]:
        result = (
            self._session.query(self._User).filter(self._User.id == user_id).first()
        )
        if result is not None:
            return result.token

    def delete(self, user_id: str) -> None:
        self._session.query(self._User).filter(self._User.id == user_id).delete()
        self._session.flush()


config.SECRET_KEY = config("SECRET_KEY", cast=Secret)
config.SERVER_METADATA_URL = config("SERVER_METADATA_URL", cast=str)
config.CLIENT_ID = config("CLIENT_ID", cast=str)
config.CLIENT_SECRET = config("CLIENT_SECRET", cast=Secret)

app = Starlette()
db = DB()


class AuthenticateMiddleware(MiddlewareOauth2):
    PUBLIC_PATHS = {"/public"}


app.add_middleware(
    AuthenticateMiddleware,
    db=db,
    server_metadata_url=config.SERVER_METADATA_URL,
    client_id=config.CLIENT_ID,
    client_secret=config.CLIENT_SECRET,
    force_https_redirect=False,
)
app.add_middleware(SessionMiddleware, secret_key=config.SECRET_KEY)


@app.route("/other")
async def homepage(request):
    user = request.session.get("user")
    return JSONResponse(user)


@app.route("/public")
async def homepage(request):
    user = request.session.get("user")
    payload = {"message": "User not authenticated"} if user is None else user
    return JSONResponse(payload)


if __name__ == "__main__":
    import logging
    import sys

    import uvicorn

    logger = logging.getLogger("httpx")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(logging.StreamHandler(sys.stdout))
    uvicorn.run(
        app,
        host=config("HOST", default="localhost"),
        port=config("PORT", cast=int, default=5001),
    )
