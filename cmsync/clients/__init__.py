"""The two systems cmsync talks to: the Campaign Monitor and Salesforce API clients."""
