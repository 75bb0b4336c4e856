"""cmsync keeps a Campaign Monitor account and a Salesforce org in sync, as a Linux service."""

__version__ = "0.1.0"
