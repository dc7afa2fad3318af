// Tests for OspreyModel.
