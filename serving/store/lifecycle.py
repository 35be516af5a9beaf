"""The incident lifecycle: which actions each status allows and where each action leads.

new ──accept|correct──► routed ──respond──► answered
 │  ◄───────reassign──────┘
 └──dismiss──► dismissed
"""

from __future__ import annotations

ALLOWED: dict[str, tuple[str, ...]] = {
    "new": ("accept", "correct", "dismiss"),
    "routed": ("reassign", "respond"),
    "answered": (),
    "dismissed": (),
}
NEXT = {"accept": "routed", "correct": "routed", "dismiss": "dismissed", "reassign": "new", "respond": "answered"}
OPEN = ("new", "routed")  # statuses whose deadline still runs: past it, the incident is overdue
LABELLING = ("accept", "correct", "dismiss")  # the actions that make a feedback label


def allowed(status: str) -> tuple[str, ...]:
    return ALLOWED[status]
