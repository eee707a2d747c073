"""The event types the log holds, named once (docs/events.md describes each)."""

PUBLISHED = "discount.published"
UPDATED = "discount.updated"
WITHDRAWN = "discount.withdrawn"
EXPIRED = "discount.expired"
EVENT_TYPES = (PUBLISHED, UPDATED, WITHDRAWN, EXPIRED)
# The types after which the deal is on show; a reader the deal has left gets them as a withdrawal.
SHOWING = (PUBLISHED, UPDATED)
EVENT_VERSION = "1"
