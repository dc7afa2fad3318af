// The OspreyFeatures module.
