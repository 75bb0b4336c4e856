"""The emulated org's Pub/Sub API: Change Data Capture events for Contact, Lead and Account over gRPC."""

from cmsync_sandbox.salesforce.pubsub.bus import CDC_OBJECTS, EventBus, change_origin
from cmsync_sandbox.salesforce.pubsub.service import PubSubServer

__all__ = ["CDC_OBJECTS", "EventBus", "PubSubServer", "change_origin"]
