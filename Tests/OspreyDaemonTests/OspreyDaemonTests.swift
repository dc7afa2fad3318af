// Tests for OspreyDaemon.
