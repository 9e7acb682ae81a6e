"""The webhook routes, shared by the API stack, the local gateway, the ingress and the senders that
give providers these URLs (Twilio ``StatusCallback``), and the one-click unsubscribe route emails carry.

A URL is always the environment's configured public base URL plus the route: signatures are over
the exact URL the provider called, and a custom domain or a stage changes it, so the URL is never
rebuilt from what a request says about itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from shared.events.envelope import EventKind, Provider


@dataclass(frozen=True)
class WebhookRoute:
    provider: Provider
    kind: EventKind
    # API Gateway's resource path; ``{company_id}`` and ``{project_id}`` are path parameters.
    path: str

    def url(self, base_url: str, company_id: str, project_id: str) -> str:
        path = self.path.format(company_id=quote(company_id, safe=""), project_id=quote(project_id, safe=""))
        return base_url.rstrip("/") + path


TWILIO_STATUS = WebhookRoute(
    Provider.TWILIO, EventKind.TWILIO_STATUS, "/webhooks/twilio/{company_id}/{project_id}/status"
)
SENDGRID_EVENTS = WebhookRoute(
    Provider.SENDGRID, EventKind.SENDGRID_EVENT, "/webhooks/sendgrid/{company_id}/{project_id}/events"
)

# Issue 11: the person's replies. Inbound Parse cannot sign, so its URL carries the project's
# inbound token as ``?token=…`` (shared/webhooks/sendgrid_inbound.py).
TWILIO_INBOUND = WebhookRoute(
    Provider.TWILIO, EventKind.TWILIO_INBOUND, "/webhooks/twilio/{company_id}/{project_id}/inbound"
)
SENDGRID_INBOUND = WebhookRoute(
    Provider.SENDGRID, EventKind.SENDGRID_INBOUND, "/webhooks/sendgrid/{company_id}/{project_id}/inbound"
)

ROUTES: tuple[WebhookRoute, ...] = (TWILIO_STATUS, SENDGRID_EVENTS, TWILIO_INBOUND, SENDGRID_INBOUND)

# Issue 12: an email's one-click unsubscribe (RFC 8058), GET (a page) and POST (unsubscribes).
# Not a provider's webhook: the person's mail client or mailbox provider calls it, and the signed
# token (shared/consent/unsubscribe_token.py) is the whole authority; no tenant ids in the path.
UNSUBSCRIBE_PATH = "/unsubscribe/{token}"
UNSUBSCRIBE_METHODS: tuple[str, ...] = ("GET", "POST")


def unsubscribe_url(base_url: str, token: str) -> str:
    return base_url.rstrip("/") + UNSUBSCRIBE_PATH.format(token=quote(token, safe=""))


# The REST API's binary media types: API Gateway hands such a body to the function base64-encoded
# (``isBase64Encoded``), byte for byte. Inbound Parse's form holds attachments and fields in other
# charsets, which a text body would mangle; form posts (Twilio) and JSON stay text.
BINARY_MEDIA_TYPES: tuple[str, ...] = ("multipart/form-data",)


def route_for(resource_path: str) -> WebhookRoute | None:
    """The route of an API Gateway ``resource`` (the template, e.g. ``/webhooks/twilio/{company_id}/...``)."""
    return next((route for route in ROUTES if route.path == resource_path), None)
