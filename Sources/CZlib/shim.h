// zlib, for reading the gzip-compressed JSON Lines data files.
#include <zlib.h>
