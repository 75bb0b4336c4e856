"""Which pushes of a chunk go to Campaign Monitor together, in one import call per list.

An import leaves CM as the single calls would only for some pushes, so only those are batched:
- adds, and updates that do not change the address (an import cannot rename a subscriber, nor change the
  case of its address as an update does);
- one push per address and list (CM drops an address repeated in one import; later ones go alone, after);
- on a list, two or more of them, and never a lone add: a single add starts the list's journeys and asks
  for confirmation on a confirmed opt-in list, while an import does neither unless told to.
Everything else (address changes, unsubscribes, deletes) is one call per push: CM has no bulk form of them.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from cmsync.outbound.planning import Push


@dataclass(frozen=True)
class Batches:
    """The pushes to import, per list, and whether each list's import holds more than one add."""

    pushes: dict[str, list[Push]]
    bulk_add: dict[str, bool]
    _batched: frozenset[int] = field(init=False)

    def __post_init__(self) -> None:
        batched = frozenset(id(push) for group in self.pushes.values() for push in group)
        object.__setattr__(self, "_batched", batched)

    def holds(self, push: Push) -> bool:
        return id(push) in self._batched


def address(push: Push) -> str:
    """The address a push names, as CM compares addresses."""
    return push.email.strip().lower()


def addresses(push: Push) -> set[str]:
    """The addresses a push touches: the one it names and, for an address change, the new one."""
    new = {push.details.email.strip().lower()} if push.details is not None else set()
    return {address(push), *new}


def _importable(push: Push) -> bool:
    if push.refused is not None or push.details is None:
        return False
    return push.kind == "add" or (push.kind == "update" and push.details.email == push.email)


def batches(pushes: Sequence[Push]) -> Batches:
    """The imports ``pushes`` (oldest change first) can be sent as."""
    candidates: dict[str, list[Push]] = defaultdict(list)
    seen: set[tuple[str, str]] = set()
    for push in pushes:
        place = (push.list_id, address(push))
        if _importable(push) and place not in seen:
            candidates[push.list_id].append(push)
        seen.add(place)
    chosen: dict[str, list[Push]] = {}
    bulk_add: dict[str, bool] = {}
    for list_id, group in candidates.items():
        adds = sum(push.kind == "add" for push in group)
        if adds == 1:
            group = [push for push in group if push.kind != "add"]
        if len(group) > 1:
            chosen[list_id] = group
            bulk_add[list_id] = adds > 1
    return Batches(chosen, bulk_add)
