"""Doing it: Dramatiq actors and the sync engine they call (CM and Salesforce clients, state store)."""
