// Tests for OspreyKafka.
