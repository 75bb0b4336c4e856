"""The Salesforce emulator: an org in memory behind the REST, Bulk API 2.0 and OAuth endpoints cmsync uses.

``SalesforceEmulator`` is the Python API for tests, benchmarks and ``cmsync sandbox``; its schema loads
from the DX project in ``salesforce/``.
"""

from cmsync_sandbox.salesforce.api import API_VERSION
from cmsync_sandbox.salesforce.emulator import SalesforceEmulator
from cmsync_sandbox.salesforce.errors import Problem, RecordError
from cmsync_sandbox.salesforce.seeding import SeedPlan, SeedReport

__all__ = ["API_VERSION", "Problem", "RecordError", "SalesforceEmulator", "SeedPlan", "SeedReport"]
