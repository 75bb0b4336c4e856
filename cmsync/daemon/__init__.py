"""When to do it: the supervisor, its signals and schedule, the outbound thread and its HTTP endpoint."""
