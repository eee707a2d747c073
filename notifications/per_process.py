"""One object per process, made on first use: a forked Celery worker child must not share the threads,
event loop or connections its parent made."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerProcess(Generic[T]):
    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._lock = threading.Lock()
        self._made: tuple[int, T] | None = None

    def get(self) -> T:
        """This process's object, made now if it has none yet."""
        with self._lock:
            if self._made is None or self._made[0] != os.getpid():
                self._made = (os.getpid(), self._make())
            return self._made[1]

    def existing(self) -> T | None:
        """This process's object if it made one, else None (nothing is started)."""
        made = self._made
        return made[1] if made is not None and made[0] == os.getpid() else None
