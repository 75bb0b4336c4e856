"""Salesforce's Pub/Sub API (gRPC): the interface definition, its generated stubs, and cmsync's client.

``pubsub_api_pb2*.py`` are generated from ``pubsub_api.proto`` by ``make pubsub-stubs`` and checked in, so
nothing is generated when cmsync is installed or imported.
"""
