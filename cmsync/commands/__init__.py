"""What an operator does (sync now, connect, purge, re-import, status), for the command line and the console."""
