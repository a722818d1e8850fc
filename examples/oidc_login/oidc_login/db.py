"""Tokens per user in one SQL table, through SQLAlchemy 2: the seed's ``DB`` class with ``put``, ``get``, ``delete``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import JSON, String, create_engine, delete
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker
from sqlalchemy.pool import StaticPool


class Base(DeclarativeBase):
    pass


class StoredToken(Base):
    """One row per user: the OIDC subject, and the provider's token response (access, ID, refresh tokens)."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String, primary_key=True)
    token: Mapped[dict[str, Any]] = mapped_column(JSON)


class DB:
    """Tokens by user id (the ID token's ``sub``)."""

    def __init__(self, url: str) -> None:
        options: dict[str, Any] = {}
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            # The app runs handlers on more than one thread (uvicorn's loop, a test client's portal).
            options["connect_args"] = {"check_same_thread": False}
            if parsed.database in (None, "", ":memory:"):
                # An in-memory database lives as long as its one connection: share that connection.
                options["poolclass"] = StaticPool
        self._engine = create_engine(url, **options)
        Base.metadata.create_all(self._engine)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)

    def put(self, user_id: str, token: Mapping[str, Any]) -> None:
        with self._sessions.begin() as session:
            session.merge(StoredToken(id=user_id, token=dict(token)))

    def get(self, user_id: str) -> dict[str, Any] | None:
        with self._sessions() as session:
            row = session.get(StoredToken, user_id)
            return dict(row.token) if row is not None else None

    def delete(self, user_id: str) -> None:
        with self._sessions.begin() as session:
            session.execute(delete(StoredToken).where(StoredToken.id == user_id))

    def close(self) -> None:
        self._engine.dispose()
