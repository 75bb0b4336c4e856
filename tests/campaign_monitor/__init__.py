"""Contract tests of the Campaign Monitor client against the emulator, and of the emulator on its own."""
