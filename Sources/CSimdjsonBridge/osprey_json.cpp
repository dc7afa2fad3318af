#include "osprey_json.h"

#include <simdjson.h>

const char *osprey_json_implementation(void) {
    return simdjson::get_active_implementation()->name().data();
}
