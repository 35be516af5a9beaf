"""A worker told to stop (SIGTERM, SIGINT): its event streams end at once instead of holding it.

uvicorn stops accepting connections on SIGTERM and then waits for the responses in flight, and an
event stream lasts until its client goes or its lifetime ends (minutes). `Stopping` is set by the
signal, before uvicorn's own handler runs as usual; the streams see it within `STEP` seconds, send a
last `end` event and finish, so the worker exits in about a second; the client's EventSource
reconnects to a worker that is still up. uvicorn's graceful timeout (OTKLIK_SHUTDOWN_SECONDS) bounds
everything else.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

STEP = 0.2  # seconds: how soon a waiting stream sees the signal
SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Stopping:
    def __init__(self) -> None:
        self._flag = threading.Event()

    def is_set(self) -> bool:
        return self._flag.is_set()

    def set(self) -> None:
        self._flag.set()

    async def pause(self, seconds: float) -> None:
        """Sleep up to `seconds`, waking within STEP once the worker is stopping."""
        ends = time.monotonic() + seconds
        while not self.is_set() and (left := ends - time.monotonic()) > 0:
            await asyncio.sleep(min(STEP, left))

    @contextmanager
    def on_signals(self) -> Iterator[None]:
        """Set on SIGTERM and SIGINT while inside; the handlers found on entry (uvicorn's) run after.

        Only the main thread receives signals: elsewhere (the test client runs the app in a thread) it
        does nothing."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous: dict[int, Any] = {sig: signal.getsignal(sig) for sig in SIGNALS}

        def handler(sig: int, frame: FrameType | None) -> None:
            self.set()
            chained = previous[sig]
            if callable(chained):
                chained(sig, frame)
            elif sig == signal.SIGINT:
                raise KeyboardInterrupt
            else:
                raise SystemExit(128 + sig)

        for sig in SIGNALS:
            signal.signal(sig, handler)
        try:
            yield
        finally:
            for sig in SIGNALS:
                if signal.getsignal(sig) is handler and previous[sig] is not None:
                    signal.signal(sig, previous[sig])
