// Tests for OspreyFeatures.
