"""The web console: the settings page as a live page, its actions, run history, rejected records and
"Why didn't this sync?", served by ``cmsync run`` on ``console.listen`` behind a password."""
