"""The main sync (CM → Salesforce import): plan a run, import lists and tracking, close the run."""
