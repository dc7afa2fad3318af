// The OspreySimulator module.
