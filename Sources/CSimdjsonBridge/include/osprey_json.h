// A C view of simdjson's on-demand parser for the event decoder.
//
// Only OspreyFeatures uses this header; the C++ behind it lives in osprey_json.cpp.
#ifndef OSPREY_JSON_H
#define OSPREY_JSON_H

#ifdef __cplusplus
extern "C" {
#endif

/// The simdjson implementation chosen for this processor ("haswell", "westmere", ...).
const char *osprey_json_implementation(void);

#ifdef __cplusplus
}
#endif

#endif
