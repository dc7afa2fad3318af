// A C view of simdjson's on-demand parser for the event decoder.
//
// Only OspreyFeatures uses this header; the C++ behind it lives in osprey_json.cpp. The bridge
// does one job: it parses one JSON object and reports, for each key the caller asks about, the
// value's kind and contents. Everything else about events (required fields, types, limits)
// is decided in Swift.
#ifndef OSPREY_JSON_H
#define OSPREY_JSON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The simdjson implementation chosen for this processor ("haswell", "westmere", ...).
const char *osprey_json_implementation(void);

/// What a requested key held.
typedef enum {
    OSPREY_JSON_ABSENT = 0,
    OSPREY_JSON_STRING = 1,
    /// A number that fits in int64 (also given as a double).
    OSPREY_JSON_INTEGER = 2,
    /// A number with a fraction or exponent, or an integer beyond int64.
    OSPREY_JSON_DOUBLE = 3,
    OSPREY_JSON_TRUE = 4,
    OSPREY_JSON_FALSE = 5,
    OSPREY_JSON_NULL = 6,
    OSPREY_JSON_OBJECT = 7,
    OSPREY_JSON_ARRAY = 8,
    /// A number that no binary64 can hold (1e999): the token is in `text`.
    OSPREY_JSON_BAD_NUMBER = 9,
} osprey_json_kind;

/// How a parse ended.
typedef enum {
    OSPREY_JSON_OK = 0,
    /// Not JSON: a syntax error, a bad string or escape, trailing content.
    OSPREY_JSON_SYNTAX = 1,
    /// Valid JSON whose top level is not an object.
    OSPREY_JSON_NOT_OBJECT = 2,
    /// Longer than the parser's limit.
    OSPREY_JSON_TOO_LARGE = 3,
    /// The bytes are not valid UTF-8.
    OSPREY_JSON_BAD_UTF8 = 4,
    /// Nested deeper than the parser allows.
    OSPREY_JSON_TOO_DEEP = 5,
    /// The parser could not allocate its buffers.
    OSPREY_JSON_NO_MEMORY = 6,
} osprey_json_status;

/// A key to look for at the top level of the object.
typedef struct {
    const char *name;
    uint32_t length;
} osprey_json_key;

/// The value found for one requested key.
///
/// `text` points to the unescaped string (kind STRING) or to the number's token as written
/// (INTEGER, DOUBLE, BAD_NUMBER); it stays valid until the next parse with the same parser.
typedef struct {
    const char *text;
    uint32_t length;
    uint8_t kind;
    int64_t integer;
    double number;
} osprey_json_field;

/// A parser with its reusable buffers. Owned by the caller; one thread at a time.
typedef struct osprey_json_parser osprey_json_parser;

/// A parser for documents of at most `max_bytes` bytes, or NULL when out of memory.
osprey_json_parser *osprey_json_parser_create(size_t max_bytes);
void osprey_json_parser_destroy(osprey_json_parser *parser);

/// Parses `bytes` as one JSON object and fills `fields[i]` for `keys[i]` (kind ABSENT when the
/// key is missing; the last occurrence wins when a key repeats). Values of other keys are
/// skipped. Returns an `osprey_json_status`.
int osprey_json_parse_fields(
    osprey_json_parser *parser, const void *bytes, size_t length, const osprey_json_key *keys,
    size_t key_count, osprey_json_field *fields);

/// Asks the processor to start loading the cache line at `address` (a hint; never faults).
/// The feature store issues these for an event's entities before it updates them, so that
/// their cache misses overlap instead of following one another.
static inline void osprey_prefetch(const void *address) { __builtin_prefetch(address, 1, 3); }

#ifdef __cplusplus
}
#endif

#endif
