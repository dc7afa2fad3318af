// The OspreyKafka module.
