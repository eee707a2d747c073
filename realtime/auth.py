"""Who a socket belongs to, from the session cookie, in one trip to the database pool.

Channels' ``AuthMiddlewareStack`` loads the session and then the user as two calls queued on
Channels' single shared database thread, so a crowd of reconnecting shoppers connects one query at
a time. Here the session row (its data and its expiry in one query) and the user (through Django's
own ``auth.get_user``: session hash checked, as for a page request) are one call on the loop's
thread pool. What area the socket shows is the consumer's business: a reconnecting page names its
area in the socket's URL, so only a first connect reads the saved one. A login read a moment ago is
not read again (``realtime.logins``).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import import_module
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AnonymousUser
from django.db import connections, router
from django.db.models import Model
from django.http.cookie import parse_cookie
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from realtime.db import db_read
from realtime.logins import recent_logins


@lru_cache(maxsize=None)
def _store_reading(engine: str) -> type:
    """The engine's session store, told its row instead of reading it again."""

    base = import_module(engine).SessionStore

    class StoreReading(base):
        def __init__(self, session_key: str, session_data: str) -> None:
            super().__init__(session_key)
            self.session_data = session_data

        # ``load`` is the hook Django gives session engines: the row was read already, with its expiry.
        def load(self) -> dict[str, Any]:
            return self.decode(self.session_data)

    # Django salts a session's signature with its store class's name: this one must sign as the engine's
    # own (realtime/tests/test_auth.py fails if that changes).
    StoreReading.__qualname__ = base.__qualname__
    return StoreReading


@lru_cache(maxsize=None)
def _user_select(db: str) -> tuple[str, list[str], list[tuple[int, list, Any]]]:
    """The user by primary key as plain SQL: its columns, their attribute names and the ORM's converters."""
    meta = auth.get_user_model()._meta
    connection = connections[db]
    quote = connection.ops.quote_name
    fields = meta.concrete_fields
    columns = [field.get_col(meta.db_table) for field in fields]
    converters = [
        (index, functions, column) for index, column in enumerate(columns)
        if (functions := connection.ops.get_db_converters(column) + column.get_db_converters(connection))
    ]
    sql = (f"SELECT {', '.join(quote(field.column) for field in fields)} FROM {quote(meta.db_table)}"
           f" WHERE {quote(meta.pk.column)} = %s")
    return sql, [field.attname for field in fields], converters


def _read_user(user_id: Any) -> Model | None:
    model = auth.get_user_model()
    db = router.db_for_read(model)
    sql, attnames, converters = _user_select(db)
    connection = connections[db]
    with connection.cursor() as cursor:
        cursor.execute(sql, [model._meta.pk.to_python(user_id)])
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for index, functions, column in converters:
        for convert in functions:
            values[index] = convert(values[index], column, connection)
    return model.from_db(db, attnames, values)


def _user_verified(store) -> Model | None:
    """The session's user if Django's ``ModelBackend`` logged it in and its hash matches under the
    current secret; ``None`` leaves the answer to ``auth.get_user`` (other backends, a hash made under
    a fallback secret, and every refusal, which it handles as for a page request).

    ``ModelBackend.get_user``'s ``QuerySet.get`` was 15% of the web process's CPU while 5,000 shoppers
    connected (py-spy, ``bench.run --connections 5000 --connect-only --profile``, 2026-12-07), nearly
    all of it building and compiling the query; the row is read with plain SQL and made a model
    instance as the ORM does (``Model.from_db``, the fields' converters applied).
    """
    try:
        user_id, backend_path = store[auth.SESSION_KEY], store[auth.BACKEND_SESSION_KEY]
    except KeyError:
        return None
    session_hash = store.get(auth.HASH_SESSION_KEY)
    if not session_hash or backend_path not in settings.AUTHENTICATION_BACKENDS:
        return None
    backend = auth.load_backend(backend_path)
    if type(backend) is not ModelBackend:
        return None
    user = _read_user(user_id)
    if user is None or not backend.user_can_authenticate(user):
        return None
    return user if constant_time_compare(session_hash, user.get_session_auth_hash()) else None


def _login_of(session_key: str | None) -> tuple[Any, float | None]:
    """The user and the seconds until the session expires.

    Database sessions keep the expiry beside the data, not in it: the row is read once for both and
    handed to the store, where Django's own store would read it again for the expiry.
    """
    if not session_key:
        return AnonymousUser(), None
    engine = import_module(settings.SESSION_ENGINE)
    model_class = getattr(engine.SessionStore, "get_model_class", None)
    expires = None
    if model_class is None:
        store = engine.SessionStore(session_key)
    else:
        # One indexed row by primary key: plain SQL, as the ORM's query building was a third of its cost.
        model = model_class()
        table, db = model._meta.db_table, router.db_for_read(model)
        with connections[db].cursor() as cursor:
            cursor.execute(
                f"SELECT session_data, expire_date FROM {connections[db].ops.quote_name(table)}"
                " WHERE session_key = %s AND expire_date > %s",
                [session_key, timezone.now()],
            )
            row = cursor.fetchone()
        if row is None:
            return AnonymousUser(), None
        store, expires = _store_reading(settings.SESSION_ENGINE)(session_key, row[0]), row[1]
    user = _user_verified(store) or auth.get_user(SimpleNamespace(session=store))
    if not user.is_authenticated:
        return user, None
    if expires is None:
        return user, float(store.get_expiry_age())
    return user, max(0.0, (expires - timezone.now()).total_seconds())


class SessionAuthMiddleware:
    """Puts ``user``, ``session_key`` (the login the socket must close with) and ``session_expires_in``
    (seconds, for the socket to close when its login lapses) in the scope."""

    def __init__(self, inner) -> None:
        self.inner = inner

    async def __call__(self, scope, receive, send):
        cookies = {}
        for name, value in scope.get("headers", ()):
            if name == b"cookie":
                cookies = parse_cookie(value.decode("latin-1"))
                break
        session_key = cookies.get(settings.SESSION_COOKIE_NAME)
        recalled = recent_logins.recall(session_key) if session_key else None
        if recalled is not None:
            user, expires_in = recalled
        else:
            generation = recent_logins.generation
            user, expires_in = await db_read(_login_of)(session_key)
            if user.is_authenticated:
                recent_logins.remember(session_key, user, expires_in, generation=generation)
        scope = dict(
            scope, user=user, session_key=session_key if user.is_authenticated else None,
            session_expires_in=expires_in,
        )
        return await self.inner(scope, receive, send)
