"""A world to try: local emulators of the Campaign Monitor and Salesforce APIs (never imported by product code)."""
