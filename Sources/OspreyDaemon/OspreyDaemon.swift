// The OspreyDaemon module.
