"""How a run reads on a terminal: its outcome and its records per object so far."""

from cmsync.state import Run


def counts_line(counts: dict[str, dict[str, int]]) -> str:
    """``CM_List_Member__c 3000 imported, 2 rejected; CM_Campaign__c 12 imported`` (or ``nothing yet``)."""
    parts = []
    for object_name, outcomes in sorted(counts.items()):
        if object_name == "jobs":
            continue
        described = ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items()))
        parts.append(f"{object_name} {described}")
    return "; ".join(parts) or "nothing yet"


def run_line(run: Run) -> str:
    """One line: the run, its state, what it has done, and why it failed when it did."""
    state = "running" if run.in_flight else run.status
    error = f" ({run.error})" if run.error else ""
    return f"run {run.id} {state}{error}: {counts_line(run.counts)}"
