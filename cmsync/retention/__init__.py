"""Email tracking retention: the rolling purge of old ``CM_Email_Activity__c`` records and the re-import of a window."""
