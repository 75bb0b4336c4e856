"""A world to try: local emulators of the Campaign Monitor and Salesforce APIs (``pip install -e '.[sandbox]'``)."""
