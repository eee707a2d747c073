"""A web process skips the database for a login it read a moment ago, and never for one that ended."""

import asyncio

import pytest
from channels.db import database_sync_to_async
from django.contrib.sessions.models import Session
from django.test import Client

from realtime.consumers import CLOSE_SESSION_ENDED
from realtime.groups import session_login
from realtime.logins import RecentLogins, recent_logins
from realtime.tests.test_consumers import _session, frame, run, socket
from tests.factories import ShopperFactory

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def delete_sessions(*keys: str) -> None:
    """Session rows gone behind the process's back (the async ORM's thread would keep its connection)."""
    Session.objects.filter(session_key__in=keys).delete()


async def connects(session: str) -> bool:
    ws = socket(session)
    connected, _ = await ws.connect()
    if connected:
        await frame(ws)
        await ws.disconnect()
    return connected


def test_a_reconnect_moments_later_is_not_read_from_the_database_again(live, settings):
    session = _session(ShopperFactory())

    async def scenario():
        assert await connects(session)  # the process's first socket: it starts hearing ended logins
        assert not recent_logins.entries
        assert await connects(session)
        # Without a notice the process cannot know the row went; only a read would.
        await delete_sessions(session)
        assert await connects(session)
        # Positive control: a process that remembers nothing reads the row and refuses the socket.
        settings.REALTIME_LOGIN_REMEMBER_SECONDS = 0
        assert not await connects(session)

    run(scenario())


def test_a_login_is_remembered_from_when_its_last_socket_closed_not_only_from_its_read(live, settings):
    settings.REALTIME_LOGIN_REMEMBER_SECONDS = 2.0
    stayed, left = _session(ShopperFactory()), _session(ShopperFactory())

    async def scenario():
        assert await connects(stayed)  # the process's first socket: it starts hearing ended logins
        # given one login whose socket stays open past the remembered seconds, and one whose socket
        # closed at once (both read from the database now)
        online = socket(stayed)
        assert (await online.connect())[0]
        await frame(online)
        assert await connects(left)
        await asyncio.sleep(2.5)
        # when the open one drops, and both sessions' rows go (only a read would notice)
        await online.disconnect()
        await delete_sessions(stayed, left)
        # then the one that was online comes back from memory
        assert await connects(stayed)
        # and the one whose seconds ran out since its socket closed is read again, and refused
        assert not await connects(left)

    run(scenario())


@pytest.mark.parametrize("ending", ["logout", "password_change"])
def test_a_login_that_ended_is_read_again_and_refused(live, ending):
    shopper = ShopperFactory()
    browsers = [Client(), Client()]
    for browser in browsers:
        browser.force_login(shopper)
    sessions = [browser.cookies["sessionid"].value for browser in browsers]
    ended = [0] if ending == "logout" else [0, 1]

    def end_the_login():
        if ending == "logout":
            browsers[0].post("/accounts/logout/")
        else:
            shopper.set_password("a whole new Passw0rd!")
            shopper.save()

    async def scenario():
        assert await connects(sessions[0])  # the process's first socket: it starts hearing ended logins
        watchers = []
        for session in sessions:
            ws = socket(session)
            assert (await ws.connect())[0]
            await frame(ws)
            watchers.append(ws)
        assert {session_login(s) for s in sessions} <= set(recent_logins.entries)  # both would be let in from memory
        await database_sync_to_async(end_the_login)()
        for index in ended:
            assert await watchers[index].receive_output(timeout=5) == {"type": "websocket.close", "code": CLOSE_SESSION_ENDED}
            assert not await connects(sessions[index])
        if ending == "logout":
            assert await connects(sessions[1])  # the same user's other login is not ended

    run(scenario())


def test_a_login_read_while_another_ended_is_not_remembered(settings):
    logins = RecentLogins()
    logins.hearing = True
    user = ShopperFactory()
    before = logins.generation
    logins.forget("session.someone-else")  # heard while this login was being read
    logins.remember("key", user, 600, generation=before)
    assert logins.recall("key") is None
    logins.remember("key", user, 600, generation=logins.generation)  # positive control
    assert logins.recall("key")[0] == user


def test_nothing_is_remembered_before_the_process_hears_ended_logins_or_past_its_time(settings, monkeypatch):
    logins = RecentLogins()
    user = ShopperFactory()
    logins.remember("key", user, 600, generation=logins.generation)
    assert logins.recall("key") is None
    logins.hearing = True
    logins.remember("key", user, 600, generation=logins.generation)
    assert logins.recall("key")[1] == pytest.approx(600, abs=1)
    # past the remembered seconds, or past the session's own expiry, it is read again
    settings.REALTIME_LOGIN_REMEMBER_SECONDS = 0.0
    assert logins.recall("key") is None
    settings.REALTIME_LOGIN_REMEMBER_SECONDS = 60.0
    logins.remember("key", user, 0.0, generation=logins.generation)
    assert logins.recall("key") is None
    assert logins.entries == {}
