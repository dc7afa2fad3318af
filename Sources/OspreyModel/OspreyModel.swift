// The OspreyModel module.
