"""What store operations refuse; the HTTP edge maps these to status codes."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from serving.store.incidents import Incident


class IncidentNotFound(LookupError):
    def __init__(self, incident_id: int) -> None:
        super().__init__(f"no incident {incident_id}")
        self.incident_id = incident_id


class Conflict(Exception):
    """The request was made against an older version of the incident; `current` is the newest."""

    def __init__(self, current: Incident, version: int) -> None:
        super().__init__(
            f"incident {current.id} is at version {current.version} ({current.status}), the request was made "
            f"against version {version}: someone else changed it; reload it and decide again"
        )
        self.current = current
        self.version = version


class IllegalTransition(Exception):
    """The action is not possible in the incident's status; `allowed` lists what is."""

    def __init__(self, current: Incident, action: str) -> None:
        allowed = current.allowed_actions
        super().__init__(
            f"incident {current.id} is {current.status}: {action!r} is not possible; "
            f"allowed: {', '.join(allowed) if allowed else 'nothing, the incident is closed'}"
        )
        self.current = current
        self.action = action
        self.allowed = allowed


class InvalidDecision(ValueError):
    """A decision whose fields do not fit its action (a correction without labels, a dismissal without a reason)."""


class InvalidCursor(ValueError):
    """A queue cursor that was not made by `queue` for this ordering."""
