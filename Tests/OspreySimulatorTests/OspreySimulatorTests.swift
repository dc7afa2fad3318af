// Tests for OspreySimulator.
