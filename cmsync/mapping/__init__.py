"""What Campaign Monitor records become in Salesforce: objects, fields, keys, links (DESIGN.md §3)."""
