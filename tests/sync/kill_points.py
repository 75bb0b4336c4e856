"""Where the kill tests kill cmsync: after a number of API calls, drawn at random with a fixed seed."""

import random

from tests.sync.world import World

API_CALLS_PER_RUN = 150
"""About how many CM and Salesforce calls a first run of the small world makes (158 when measured)."""
_draw = random.Random(20261130)
KILL_POINTS = sorted(
    _draw.randrange(1 + tenth * API_CALLS_PER_RUN // 10, (tenth + 1) * API_CALLS_PER_RUN // 10) for tenth in range(10)
)
"""Ten kill points, one from each tenth of a run: planning, list imports, tracking and closing all get hit."""


def api_calls(world: World) -> int:
    """Calls both emulators have served so far: the clock the kill points are told in."""
    return len(world.cm.calls.calls()) + len(world.sf.calls.calls())
