"""When to do it: the supervisor, its signals and schedule, and the ``cmsync`` command line."""
