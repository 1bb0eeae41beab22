// NewUuid: a random (version 4) UUID in its text form, for ids a service
// issues before it writes them, so that it knows its answer before the one
// statement that stores it and the answer together.
#ifndef SAGAWORKS_COMMON_UUID_H_
#define SAGAWORKS_COMMON_UUID_H_

#include <string>

namespace sagaworks {

// Drawn from OpenSSL's generator, not from a seeded one: ids must be unique
// across processes and restarts, which a generator seeded per process cannot
// promise.
std::string NewUuid();

}  // namespace sagaworks

#endif  // SAGAWORKS_COMMON_UUID_H_
