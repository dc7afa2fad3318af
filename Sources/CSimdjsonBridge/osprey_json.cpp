// The C++ behind osprey_json.h: simdjson's on-demand API over one object at a time.
#include "osprey_json.h"

#include <cstdint>
#include <cstring>
#include <new>
#include <string_view>
#include <vector>

#include <simdjson.h>

using namespace simdjson;

struct osprey_json_parser {
    ondemand::parser parser;
    // The input is copied here so that simdjson may read SIMDJSON_PADDING bytes past its end.
    std::vector<char> padded;
    // For each requested key (and, last, the start of an object): the key that followed it
    // in the previous message, tried first. Producers write keys in steady orders.
    std::vector<uint32_t> successor;
    size_t max_bytes;

    explicit osprey_json_parser(size_t limit) : parser(limit), max_bytes(limit) {}
};

#define OSPREY_STRINGIFY_INNER(name) #name
#define OSPREY_STRINGIFY(name) OSPREY_STRINGIFY_INNER(name)

const char *osprey_json_implementation(void) {
    // The on-demand kernels are compiled into this file, so the implementation is the one the
    // compiler flags selected, not the shared library's choice.
    return OSPREY_STRINGIFY(SIMDJSON_BUILTIN_IMPLEMENTATION);
}

osprey_json_parser *osprey_json_parser_create(size_t max_bytes) {
    auto *parser = new (std::nothrow) osprey_json_parser(max_bytes);
    if (parser == nullptr) return nullptr;
    try {
        parser->padded.resize(4096 + SIMDJSON_PADDING);
    } catch (...) {
        delete parser;
        return nullptr;
    }
    return parser;
}

void osprey_json_parser_destroy(osprey_json_parser *parser) { delete parser; }

static int status_for(error_code error) {
    switch (error) {
    case SUCCESS: return OSPREY_JSON_OK;
    case UTF8_ERROR: return OSPREY_JSON_BAD_UTF8;
    case DEPTH_ERROR: return OSPREY_JSON_TOO_DEEP;
    case CAPACITY: return OSPREY_JSON_TOO_LARGE;
    case MEMALLOC: return OSPREY_JSON_NO_MEMORY;
    default: return OSPREY_JSON_SYNTAX;
    }
}

static std::string_view trimmed(std::string_view token) {
    while (!token.empty()) {
        char last = token.back();
        if (last != ' ' && last != '\t' && last != '\n' && last != '\r') break;
        token.remove_suffix(1);
    }
    return token;
}

static int walk_value(ondemand::value &value);

// Nested values are walked to their end (simdjson bounds the depth), so that a malformed nested
// value is an error rather than something silently skipped. Kept out of line: events rarely
// nest, and the scalar path stays small.
[[gnu::noinline]] static int walk_object(ondemand::value &value) {
    ondemand::object object;
    if (auto error = value.get_object().get(object)) return status_for(error);
    for (auto result : object) {
        ondemand::field field;
        if (auto error = std::move(result).get(field)) return status_for(error);
        std::string_view key;
        if (auto error = field.unescaped_key().get(key)) return status_for(error);
        ondemand::value nested = field.value();
        if (int status = walk_value(nested)) return status;
    }
    return OSPREY_JSON_OK;
}

[[gnu::noinline]] static int walk_array(ondemand::value &value) {
    ondemand::array array;
    if (auto error = value.get_array().get(array)) return status_for(error);
    for (auto result : array) {
        ondemand::value nested;
        if (auto error = std::move(result).get(nested)) return status_for(error);
        if (int status = walk_value(nested)) return status;
    }
    return OSPREY_JSON_OK;
}

// Checks any value without keeping it: scalars are parsed, containers walked.
[[gnu::noinline]] static int walk_value(ondemand::value &value) {
    ondemand::json_type type;
    if (auto error = value.type().get(type)) return status_for(error);
    switch (type) {
    case ondemand::json_type::object: return walk_object(value);
    case ondemand::json_type::array: return walk_array(value);
    case ondemand::json_type::string: {
        std::string_view text;
        return status_for(value.get_string().get(text));
    }
    case ondemand::json_type::number: {
        ondemand::number number;
        if (value.get_number().get(number) == SUCCESS) return OSPREY_JSON_OK;
        return OSPREY_JSON_OK;
    }
    case ondemand::json_type::boolean: {
        bool flag;
        return status_for(value.get_bool().get(flag));
    }
    case ondemand::json_type::null: return value.is_null() ? OSPREY_JSON_OK : OSPREY_JSON_SYNTAX;
    }
    return OSPREY_JSON_SYNTAX;
}

// Reads one value into `out`; returns a status (numbers that overflow are a kind, not an error).
static int read_value(ondemand::value &value, osprey_json_field &out) {
    ondemand::json_type type;
    if (auto error = value.type().get(type)) return status_for(error);
    out.text = nullptr;
    out.length = 0;
    switch (type) {
    case ondemand::json_type::string: {
        // Stage 1 has checked the quotes, the UTF-8 and that no control character is left
        // unescaped: a string without a backslash is its own value, read where it lies rather
        // than unescaped into the parser's buffer.
        std::string_view token = trimmed(value.raw_json_token());
        if (token.size() >= 2 && token.back() == '"' &&
            std::memchr(token.data() + 1, '\\', token.size() - 2) == nullptr) {
            out.kind = OSPREY_JSON_STRING;
            out.text = token.data() + 1;
            out.length = static_cast<uint32_t>(token.size() - 2);
            return OSPREY_JSON_OK;
        }
        std::string_view text;
        if (auto error = value.get_string().get(text)) return status_for(error);
        out.kind = OSPREY_JSON_STRING;
        out.text = text.data();
        out.length = static_cast<uint32_t>(text.size());
        return OSPREY_JSON_OK;
    }
    case ondemand::json_type::number: {
        std::string_view token = trimmed(value.raw_json_token());
        out.text = token.data();
        out.length = static_cast<uint32_t>(token.size());
        ondemand::number number;
        if (value.get_number().get(number) != SUCCESS) {
            out.kind = OSPREY_JSON_BAD_NUMBER;
            return OSPREY_JSON_OK;
        }
        if (number.is_int64()) {
            out.kind = OSPREY_JSON_INTEGER;
            out.integer = number.get_int64();
            out.number = static_cast<double>(out.integer);
        } else {
            out.kind = OSPREY_JSON_DOUBLE;
            out.number = number.as_double();
        }
        return OSPREY_JSON_OK;
    }
    case ondemand::json_type::boolean: {
        bool flag;
        if (auto error = value.get_bool().get(flag)) return status_for(error);
        out.kind = flag ? OSPREY_JSON_TRUE : OSPREY_JSON_FALSE;
        return OSPREY_JSON_OK;
    }
    case ondemand::json_type::null:
        if (!value.is_null()) return OSPREY_JSON_SYNTAX;
        out.kind = OSPREY_JSON_NULL;
        return OSPREY_JSON_OK;
    case ondemand::json_type::object:
        out.kind = OSPREY_JSON_OBJECT;
        return walk_object(value);
    case ondemand::json_type::array:
        out.kind = OSPREY_JSON_ARRAY;
        return walk_array(value);
    }
    return OSPREY_JSON_SYNTAX;
}

// A document that is not an object is either other valid JSON (NOT_OBJECT) or not JSON at
// all (SYNTAX): parse it again and walk it to tell which.
[[gnu::noinline]] static int classify_non_object(osprey_json_parser *parser, size_t length) {
    ondemand::document document;
    auto error = parser->parser.iterate(parser->padded.data(), length, parser->padded.size())
                     .get(document);
    if (error) return status_for(error);
    ondemand::json_type type;
    if ((error = document.type().get(type))) return status_for(error);
    int status = OSPREY_JSON_OK;
    switch (type) {
    case ondemand::json_type::array: {
        ondemand::array array;
        if ((error = document.get_array().get(array))) return status_for(error);
        for (auto result : array) {
            ondemand::value nested;
            if ((error = std::move(result).get(nested))) return status_for(error);
            if ((status = walk_value(nested))) return status;
        }
        break;
    }
    case ondemand::json_type::string: {
        std::string_view text;
        if ((error = document.get_string().get(text))) return status_for(error);
        break;
    }
    case ondemand::json_type::number: {
        double number;
        if ((error = document.get_double().get(number))) return status_for(error);
        break;
    }
    case ondemand::json_type::boolean: {
        bool flag;
        if ((error = document.get_bool().get(flag))) return status_for(error);
        break;
    }
    case ondemand::json_type::null: {
        bool null;
        if ((error = document.is_null().get(null)) || !null) return OSPREY_JSON_SYNTAX;
        break;
    }
    default: return OSPREY_JSON_SYNTAX;
    }
    const char *end = nullptr;
    if (document.current_location().get(end) == SUCCESS) return OSPREY_JSON_SYNTAX;
    return OSPREY_JSON_NOT_OBJECT;
}

// The index of the requested key that the raw key `raw` (just after its opening quote, as
// written; `length` bytes up to its closing quote, no backslash) spells, or `key_count`. The
// key `guess` is tried first; the others are told apart by length and first byte.
static size_t match_raw_key(
    const char *raw, size_t length, const osprey_json_key *keys, size_t key_count,
    size_t guess) {
    if (guess < key_count && keys[guess].length == length &&
        std::memcmp(raw, keys[guess].name, length) == 0) {
        return guess;
    }
    for (size_t index = 0; index < key_count; index += 1) {
        const osprey_json_key &key = keys[index];
        if (key.length == length && key.name[0] == raw[0] &&
            std::memcmp(raw, key.name, length) == 0) {
            return index;
        }
    }
    return key_count;
}

// The length of the raw key up to its closing quote, or SIZE_MAX when it holds a backslash
// (an escaped key, which must be unescaped before it is compared).
static size_t raw_key_length(const char *raw) {
    size_t length = 0;
    for (; raw[length] != '"'; length += 1) {
        if (raw[length] == '\\') return SIZE_MAX;
    }
    return length;
}

static size_t match_unescaped_key(
    std::string_view key, const osprey_json_key *keys, size_t key_count) {
    for (size_t index = 0; index < key_count; index += 1) {
        if (keys[index].length == key.size() &&
            std::memcmp(keys[index].name, key.data(), key.size()) == 0) {
            return index;
        }
    }
    return key_count;
}

static int parse_object(
    osprey_json_parser *parser, size_t length, const osprey_json_key *keys, size_t key_count,
    osprey_json_field *fields) {
    ondemand::document document;
    auto error = parser->parser.iterate(parser->padded.data(), length, parser->padded.size())
                     .get(document);
    if (error) return status_for(error);
    uint32_t *successor = parser->successor.data();
    size_t previous = key_count;
    ondemand::object object;
    if ((error = document.get_object().get(object))) {
        return error == INCORRECT_TYPE ? classify_non_object(parser, length)
                                       : status_for(error);
    }
    for (auto result : object) {
        ondemand::field field;
        if ((error = std::move(result).get(field))) return status_for(error);
        const char *raw = field.key().raw();
        size_t length = raw_key_length(raw);
        size_t index;
        if (length != SIZE_MAX) {
            index = match_raw_key(raw, length, keys, key_count, successor[previous]);
        } else {
            std::string_view key;
            if ((error = field.unescaped_key().get(key))) return status_for(error);
            index = match_unescaped_key(key, keys, key_count);
        }
        if (index < key_count) {
            successor[previous] = static_cast<uint32_t>(index);
            previous = index;
        }
        ondemand::value value = field.value();
        // Unknown keys are ignored, but their values are still read, so that they must be
        // well formed JSON too.
        osprey_json_field ignored;
        int status = read_value(value, index == key_count ? ignored : fields[index]);
        if (status != OSPREY_JSON_OK) return status;
    }
    // Only whitespace may follow the object.
    const char *end = nullptr;
    if (document.current_location().get(end) == SUCCESS) return OSPREY_JSON_SYNTAX;
    return OSPREY_JSON_OK;
}

int osprey_json_parse_fields(
    osprey_json_parser *parser, const void *bytes, size_t length, const osprey_json_key *keys,
    size_t key_count, osprey_json_field *fields) {
    for (size_t index = 0; index < key_count; index += 1) fields[index].kind = OSPREY_JSON_ABSENT;
    if (length > parser->max_bytes) return OSPREY_JSON_TOO_LARGE;
    try {
        if (parser->padded.size() < length + SIMDJSON_PADDING) {
            parser->padded.resize(length + SIMDJSON_PADDING);
        }
        if (parser->successor.size() != key_count + 1) {
            parser->successor.assign(key_count + 1, 0);
        }
    } catch (...) {
        return OSPREY_JSON_NO_MEMORY;
    }
    std::memcpy(parser->padded.data(), bytes, length);
    std::memset(parser->padded.data() + length, ' ', SIMDJSON_PADDING);
    try {
        return parse_object(parser, length, keys, key_count, fields);
    } catch (...) {
        return OSPREY_JSON_SYNTAX;
    }
}
