"""The monitoring loop: poll each enabled source, ingest its pages, keep its cursor; post answers back.

A page and the cursor past it are one transaction (`ingest(..., before_commit=save_page)`), so a
restart after a crash resumes at the last stored page: nothing lost, and what is fetched again is a
duplicate the store recognizes. A refused token stops its source (until the token is replaced);
other failures mark it failing and the next round tries again; the other sources go on.

Only one monitor works at a time: each round takes or renews the database lease "monitor", and renews
it again before each page and each reply, so that two monitors started against one database (a cron
entry and a systemd unit, two machines) never both post an answer back. The other one waits for the
lease to be released or to expire.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from model.predictor import Predictor
from serving.connectors import Backoff, Connector, ConnectorError, Page, TokenRevoked, connector_for
from serving.connectors.config import SourceConfig
from serving.ingest import IncomingPost, ingest
from serving.store import Clock, IngestResult, Lease, acquire, lease_of, process_holder, release
from serving.store.leases import MONITOR
from serving.store.sources import (
    DuePostback,
    add_counts,
    due_postbacks,
    ensure_source,
    mark_source,
    record_postback,
    save_page,
    token_fingerprint,
)

log = logging.getLogger("otklik.monitor")

LEASE = MONITOR


class _LeaseLost(Exception):
    """Another monitor took the lease during the round: the rest of the round is left to it."""


@dataclass
class SourceRun:
    """What one round did with one source."""

    source: str
    status: str = "ok"  # ok, failing, stopped, skipped (stopped earlier, token unchanged)
    pages: int = 0
    fetched: int = 0
    created: int = 0
    incidents: int = 0
    skipped: int = 0
    error: str | None = None


@dataclass
class Round:
    sources: list[SourceRun] = field(default_factory=list)
    postbacks: dict[str, int] = field(default_factory=lambda: {"posted": 0, "failed": 0, "skipped": 0})
    lease: str = "held"  # held; waiting (another monitor has it, nothing done); lost (taken over mid-round)
    holder: Lease | None = None  # the other monitor's lease, when waiting

    @property
    def ok(self) -> bool:
        """The lease was held throughout and every source answered (a source stopped earlier and skipped
        is not ok either)."""
        return self.lease == "held" and all(s.status == "ok" for s in self.sources)

    def to_json(self) -> dict[str, Any]:
        out = {"sources": [vars(s) for s in self.sources], "postbacks": self.postbacks, "lease": self.lease}
        if self.holder is not None:
            out["holder"] = {"id": self.holder.holder, "until": self.holder.expires_at.isoformat()}
        return out


@dataclass(frozen=True)
class MonitorOptions:
    max_pages: int = 100
    backoff: Backoff = field(default_factory=Backoff)
    postback: bool = True
    postback_attempts: int = 5
    postback_delay: float = 60.0
    lease: float = 180.0  # seconds the lease lasts unrenewed; longer than any page or reply takes


class Monitor:
    """The loop over `sources` (the disabled ones left out); connectors are built per round by `make_connector`.
    `holder` names this monitor in the lease (default: this process)."""

    def __init__(self, sources: Sequence[SourceConfig], sessions: sessionmaker[Session], predictor: Predictor,
                 clock: Clock, options: MonitorOptions | None = None,
                 make_connector: Callable[[SourceConfig, Backoff], Connector] = connector_for,
                 holder: str | None = None) -> None:
        self.sources = [s for s in sources if s.enabled]
        self.sessions = sessions
        self.predictor = predictor
        self.clock = clock
        self.options = options or MonitorOptions()
        self.make_connector = make_connector
        self.holder = holder or process_holder()
        self._waiting_for: str | None = None  # the holder last logged as having the lease

    def run(self, interval: float, stop: threading.Event) -> None:
        """Rounds every `interval` seconds until `stop` is set (between pages and between rounds), then the
        lease released. A round that breaks on something unexpected (the database away, say) is logged and
        the next one tries again."""
        try:
            while not stop.is_set():
                try:
                    self.round(stop)
                except Exception:
                    log.exception("the round failed; the next one starts in %.1f s", interval)
                stop.wait(interval)
        finally:
            self.release()

    def round(self, stop: threading.Event | None = None) -> Round:
        """Each source until it has caught up (or `max_pages`), then the due post-backs; nothing when another
        monitor holds the lease."""
        done = Round()
        other = self._take_lease()
        if other is not None:
            done.lease, done.holder = "waiting", other
            return done
        try:
            for source in self.sources:
                if stop is not None and stop.is_set():
                    break
                done.sources.append(self.poll(source, stop))
            self.post_back(done.postbacks)
        except _LeaseLost:
            done.lease = "lost"
            log.warning("another monitor took the lease during the round; the rest of the round is left to it")
        return done

    def release(self) -> None:
        """Give the lease up (at exit), so that another monitor need not wait for it to expire."""
        try:
            with self.sessions() as session:
                release(session, LEASE, self.holder)
        except Exception as exc:  # the database away: the lease expires by itself
            log.warning("could not release the lease (%s: %s); another monitor takes it once it expires",
                        type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")

    def _take_lease(self) -> Lease | None:
        """None when this monitor holds the lease (taken or renewed), else the other monitor's lease."""
        with self.sessions() as session:
            while not acquire(session, LEASE, self.holder, self.clock, self.options.lease):
                other = lease_of(session, LEASE)
                if other is not None:  # else released in between: the next try takes it
                    if self._waiting_for != other.holder:
                        self._waiting_for = other.holder
                        log.info("another monitor (%s) holds the lease until %s; waiting", other.holder,
                                 other.expires_at.isoformat())
                    return other
        if self._waiting_for is not None:
            log.info("took the lease over from %s", self._waiting_for)
            self._waiting_for = None
        return None

    def _keep_lease(self) -> None:
        """Renew the lease before work that another monitor must not do too."""
        with self.sessions() as session:
            if not acquire(session, LEASE, self.holder, self.clock, self.options.lease):
                raise _LeaseLost

    def poll(self, source: SourceConfig, stop: threading.Event | None = None) -> SourceRun:
        """Pages of one source from its stored cursor until it has caught up; its status stored at the end."""
        run = SourceRun(source.id)
        try:
            with self.sessions() as session:
                state = ensure_source(session, source.id, source.network)
        except ValueError as exc:
            log.error("%s", exc, extra={"source": source.id})
            return SourceRun(source.id, status="failing", error=str(exc))
        fingerprint = token_fingerprint(source.token)
        if state.status == "stopped" and state.stopped_token == fingerprint:
            log.warning("%s: stopped (%s); replace its token to start it again", source.id, state.last_error,
                        extra={"source": source.id})
            return SourceRun(source.id, status="skipped", error=state.last_error)
        connector = self.make_connector(source, self.options.backoff)
        cursor = state.cursor
        try:
            for _ in range(self.options.max_pages):
                self._keep_lease()
                page = connector.fetch(cursor)
                self._store(source, page, run)
                cursor = page.cursor
                if not page.more or (stop is not None and stop.is_set()):
                    break
        except TokenRevoked as exc:
            run.status, run.error = "stopped", str(exc)
            log.error("%s: token refused, source stopped: %s", source.id, exc, extra={"source": source.id})
            with self.sessions() as session:
                mark_source(session, source.id, "stopped", self.clock, str(exc), fingerprint)
            return run
        except ConnectorError as exc:
            run.status, run.error = "failing", str(exc)
            log.error("%s: %s; retried next round", source.id, exc, extra={"source": source.id})
            with self.sessions() as session:
                mark_source(session, source.id, "failing", self.clock, str(exc))
            return run
        finally:
            connector.close()
        with self.sessions() as session:
            mark_source(session, source.id, "ok", self.clock)
        return run

    def _store(self, source: SourceConfig, page: Page, run: SourceRun) -> None:
        """Ingest a page with the cursor past it. A post the ingest edge refuses (no region can be found
        for it, say) is skipped alone with a log line, and the rest of the page is stored."""
        posts = list(page.posts)

        def save(skipped: int) -> Callable[[Session], None]:
            return lambda session: save_page(session, source.id, page.cursor, self.clock.now(), len(posts), skipped)

        skipped = page.skipped
        try:
            results = [self._ingest(posts, save(skipped))]
        except ValueError:
            results = []
            for post in posts:
                try:
                    results.append(self._ingest([post]))
                except ValueError as exc:
                    skipped += 1
                    log.warning("%s: post %s skipped: %s", source.id, post.external_id, exc,
                                extra={"source": source.id})
            results.append(self._ingest([], save(skipped)))
        created = sum(len(r.created) for r in results)
        incidents = sum(1 for r in results for i in r.incidents if not i.attached)
        with self.sessions() as session:
            add_counts(session, source.id, created, incidents)
        run.pages += 1
        run.fetched += len(posts)
        run.created += created
        run.incidents += incidents
        run.skipped += skipped
        log.info("%s: page of %d posts: %d new, %d incidents, %d skipped", source.id, len(posts), created, incidents,
                 skipped, extra={"source": source.id})

    def _ingest(self, posts: list[IncomingPost], before_commit: Callable[[Session], None] | None = None,
                ) -> IngestResult:
        return ingest(self.sessions, self.predictor, self.clock, posts, before_commit=before_commit)

    # ---- answers posted back ------------------------------------------------------------------------

    def post_back(self, counts: dict[str, int]) -> None:
        """Post each due response through a reply-enabled source of its post's network, counting outcomes
        in `counts`. The lease is renewed before each: a monitor that lost it stops (`_LeaseLost`)."""
        with self.sessions() as session:
            due = due_postbacks(session, self.clock, self.options.postback_attempts)
        connectors: dict[str, Connector] = {}
        try:
            for item in due:
                self._keep_lease()
                status, error, url = self._post_one(item, connectors)
                counts[status] += 1
                with self.sessions() as session:
                    record_postback(session, item, status, self.clock, self.options.postback_delay, error, url)
        finally:
            for connector in connectors.values():
                connector.close()

    def _post_one(self, item: DuePostback, connectors: dict[str, Connector]) -> tuple[str, str | None, str | None]:
        if not self.options.postback:
            return "skipped", "post-back is switched off (OTKLIK_POSTBACK=false)", None
        source = self._reply_source(item)
        if source is None:
            return "skipped", f"no enabled {item.network} source has reply = true", None
        if source.id not in connectors:
            connectors[source.id] = self.make_connector(source, self.options.backoff)
        text = item.text if not item.url else f"{item.text}\n{item.url}"
        try:
            url = connectors[source.id].reply(_Target(item.external_id, item.raw), text)
        except ConnectorError as exc:
            attempt = item.attempts + 1
            final = attempt >= self.options.postback_attempts
            log.error("response %d: post-back attempt %d failed%s: %s", item.response_id, attempt,
                      " (giving up)" if final else "", exc, extra={"incident": item.incident_id})
            suffix = f" (attempt {attempt} of {self.options.postback_attempts}{', giving up' if final else ''})"
            return "failed", f"{exc}{suffix}", None
        log.info("response %d posted back to %s: %s", item.response_id, source.id, url,
                 extra={"incident": item.incident_id})
        return "posted", None, url

    def _reply_source(self, item: DuePostback) -> SourceConfig | None:
        candidates = [s for s in self.sources if s.network == item.network and s.reply]
        same_region = [s for s in candidates if s.region == item.region]
        return next(iter(same_region or candidates), None)


@dataclass(frozen=True)
class _Target:
    external_id: str
    raw: dict[str, Any] | None
