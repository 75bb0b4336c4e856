"""A Campaign Monitor API v3.3 emulator: clients, lists, subscribers, campaigns, journeys and tracking,
with seed data, OAuth, fault injection and a call log."""

from cmsync_sandbox.campaign_monitor.emulator import DEFAULT_API_KEY, CampaignMonitorEmulator
from cmsync_sandbox.campaign_monitor.oauth import OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET, OAUTH_REFRESH_TOKEN
from cmsync_sandbox.campaign_monitor.seeding import SANDBOX_CLIENT_ID, SIZES, SeedSpec

__all__ = [
    "DEFAULT_API_KEY",
    "OAUTH_CLIENT_ID",
    "OAUTH_CLIENT_SECRET",
    "OAUTH_REFRESH_TOKEN",
    "SANDBOX_CLIENT_ID",
    "SIZES",
    "CampaignMonitorEmulator",
    "SeedSpec",
]
