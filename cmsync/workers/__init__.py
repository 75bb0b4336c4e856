"""Where jobs run: the Dramatiq broker, the actors and their middleware, and the ``cmsync worker`` processes."""
