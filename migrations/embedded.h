// The SQL compiled into the binaries: each service's migrations and the demo
// data (file name, text), sorted by file name.
#ifndef SAGAWORKS_MIGRATIONS_EMBEDDED_H_
#define SAGAWORKS_MIGRATIONS_EMBEDDED_H_

#include <string_view>
#include <utility>
#include <vector>

namespace sagaworks::migrations {

using Files = std::vector<std::pair<std::string_view, std::string_view>>;

// ForService is the migrations of the service the registry names `name`
// (migrations/<name>/ and migrations/shared/); empty for a service without
// a folder.
const Files& ForService(std::string_view name);

// demo: "<service name>.sql" for the databases the demo data fills.
const Files& demo();

}  // namespace sagaworks::migrations

#endif  // SAGAWORKS_MIGRATIONS_EMBEDDED_H_
