"""Every channel-layer group name Dealcast uses comes from here."""

import hashlib
import sys


def cell_group(cell: str) -> str:
    """Shoppers whose area covers this H3 cell."""
    # Interned: every socket keeps its groups' names for its life, and a city's sockets share a few
    # hundred of them.
    return sys.intern(f"cell.{cell}")


# Every web process listens here for logins that ended; the message names the login.
LOGINS_GROUP = "logins"


USER_LOGIN_PREFIX = "user."


def user_login(user_id: int) -> str:
    """Every socket of one user (closed when the account is deactivated)."""
    return f"{USER_LOGIN_PREFIX}{user_id}"


def session_login(session_key: str) -> str:
    """Every socket opened with one login session (closed at logout); the key itself never leaves."""
    return "session." + hashlib.sha256(session_key.encode()).hexdigest()[:32]


def logins_of(scope) -> list[str]:
    """The names a socket's login ends under: its user's and its session's."""
    logins = [user_login(scope["user"].pk)]
    if scope.get("session_key"):
        logins.append(session_login(scope["session_key"]))
    return logins


def staff_group(market_id: int) -> str:
    """The staff dashboards of one market."""
    return f"staff.market.{market_id}"
