"""Settings that are valid but can never act as written: ``check-config`` warns about them."""

from cmsync.config.errors import ConfigIssue
from cmsync.config.model import Settings


def rule_warnings(settings: Settings) -> list[ConfigIssue]:
    """A warning for each subscription rule that some other setting keeps from firing, or from firing
    where its owner probably expects it to."""
    warnings = []
    active = [(index, rule) for index, rule in enumerate(settings.subscription_rules) if not rule.disabled]
    if settings.advanced.disable_triggers and active:
        warnings.append(
            ConfigIssue(
                "subscription_rules",
                f"advanced.disable_triggers is on, so none of the {len(active)} enabled rules ever runs",
            )
        )
    if settings.advanced.account_trigger:
        warnings.extend(
            ConfigIssue(
                f"subscription_rules[{index}]",
                "evaluation 'created' is never triggered by an Account edit (advanced.account_trigger "
                "re-evaluates the Account's Contacts as edited); use created_or_edited to act on those too",
            )
            for index, rule in active
            if rule.object == "Contact" and rule.action == "add" and rule.evaluation == "created"
        )
    return warnings
