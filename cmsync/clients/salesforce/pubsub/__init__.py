"""cmsync's client of Salesforce's Pub/Sub API (gRPC); the interface and its stubs are in
``cmsync.protocols.pubsub``."""
