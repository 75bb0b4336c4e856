"""Salesforce's Pub/Sub API (gRPC): the interface definition and its generated stubs.

``pubsub_api_pb2*.py`` are generated from ``pubsub_api.proto`` by ``make pubsub-stubs`` and checked in, so
nothing is generated when cmsync is installed or imported.
"""
