"""Near-real-time outbound: Salesforce changes to Contacts, Leads and Accounts pushed to Campaign Monitor
through subscription rules, sf2cm field mappings and the email opt-out settings (DESIGN.md §5).

``poll_once(systems)`` is the one entry point; the supervisor calls it every ``outbound.poll_interval``.
"""

from cmsync.outbound.poller import poll_once
from cmsync.outbound.report import PollReport

__all__ = ["PollReport", "poll_once"]
