"""Every event type the registry stores, and the purpose it serves.

Events the service needs to run (a bid, a sign-in, a security alert) rest on the contract or
legitimate interest; web and app analytics rest on consent (917/2014 §205: not strictly
necessary). An analytics event is stored only while the person's `analytics` permission allows
it, and a type not declared here is refused, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EventType:
    purpose: str  # the purpose code it is processed for
    description: str


SERVICE = "customer_relationship"  # contract
ANALYTICS = "analytics"  # consent

EVENT_TYPES: dict[str, EventType] = {
    "account.registered": EventType(SERVICE, "The person registered."),
    "sign_in": EventType(SERVICE, "The person signed in."),
    "sign_in.failed": EventType(SERVICE, "A failed sign-in (security)."),
    "sign_out": EventType(SERVICE, "The person signed out."),
    "password.changed": EventType(SERVICE, "The password was changed (security)."),
    "security.alert": EventType(SERVICE, "Something the security team must see."),
    "bid.placed": EventType(SERVICE, "A bid was placed."),
    "bid.retracted": EventType(SERVICE, "A bid was retracted."),
    "bid.outbid": EventType(SERVICE, "Another bid went over the person's."),
    "auction.won": EventType(SERVICE, "The person won an auction."),
    "auction.lost": EventType(SERVICE, "An auction the person bid in went to another."),
    "item.listed": EventType(SERVICE, "The person listed an item for sale."),
    "item.sold": EventType(SERVICE, "An item the person listed was sold."),
    "purchase.completed": EventType(SERVICE, "A purchase was completed."),
    "payment.completed": EventType(SERVICE, "A payment was completed."),
    "watchlist.added": EventType(SERVICE, "An item was added to the watch list."),
    "watchlist.removed": EventType(SERVICE, "An item was removed from the watch list."),
    "message.sent": EventType(SERVICE, "The person sent a message to a seller or buyer."),
    "page.view": EventType(ANALYTICS, "A page was viewed."),
    "item.viewed": EventType(ANALYTICS, "An item's page was viewed."),
    "search": EventType(ANALYTICS, "A search was made."),
    "click": EventType(ANALYTICS, "Something on a page was clicked."),
    "session.started": EventType(ANALYTICS, "A browsing session began."),
    "session.ended": EventType(ANALYTICS, "A browsing session ended."),
    "app.opened": EventType(ANALYTICS, "The mobile app was opened."),
}
