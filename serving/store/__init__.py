"""The incident store: posts, predictions, incidents, the decision log, responses, users and tokens,
the web pages' sessions, the leases that let one process at a time do a job, and what the retention
purge reads and rewrites (`retention`).

Functions take a SQLAlchemy Session (from `serving.database.make_sessions`) and a Clock, return
frozen records, raise the plain exceptions of `errors`; each write is one transaction and commits.
The schema is made by `schema.upgrade` (Alembic), at start-up or by `otklik db upgrade`.
"""

from serving.store.clock import Clock, ManualClock, SystemClock
from serving.store.decisions import Decision, Labels, decide, decisions_of
from serving.store.errors import Conflict, IllegalTransition, IncidentNotFound, InvalidCursor, InvalidDecision
from serving.store.feedback import export_feedback
from serving.store.incidents import Incident, PostRef, Route, Suggestion, get_incident
from serving.store.leases import Lease, acquire, lease_of, process_holder, release
from serving.store.posts import (
    IngestResult,
    NetworkPost,
    PostKey,
    PredictFn,
    Registration,
    RulesFn,
    ingest_posts,
    text_hash,
)
from serving.store.queue import QueueFilter, QueuePage, queue
from serving.store.responses import Response, respond, responses_of, set_postback
from serving.store.schema import upgrade
from serving.store.tokens import issue_token, revoke_token, user_for_token
from serving.store.users import User, UserExists, create_user, get_user
from serving.store.web_sessions import WebSession, end_web_session, open_web_session, web_session

__all__ = [
    "Clock",
    "Conflict",
    "Decision",
    "IllegalTransition",
    "Incident",
    "IncidentNotFound",
    "IngestResult",
    "InvalidCursor",
    "InvalidDecision",
    "Labels",
    "Lease",
    "ManualClock",
    "NetworkPost",
    "PostKey",
    "PostRef",
    "PredictFn",
    "QueueFilter",
    "QueuePage",
    "Registration",
    "Response",
    "Route",
    "RulesFn",
    "Suggestion",
    "SystemClock",
    "User",
    "UserExists",
    "WebSession",
    "acquire",
    "create_user",
    "decide",
    "decisions_of",
    "end_web_session",
    "export_feedback",
    "get_incident",
    "get_user",
    "ingest_posts",
    "issue_token",
    "lease_of",
    "open_web_session",
    "process_holder",
    "queue",
    "release",
    "respond",
    "responses_of",
    "revoke_token",
    "set_postback",
    "text_hash",
    "upgrade",
    "user_for_token",
    "web_session",
]
