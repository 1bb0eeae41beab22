// The SQL compiled into the binaries: each service's migrations and the demo
// data (file name, text), sorted by file name.
#ifndef SAGAWORKS_MIGRATIONS_EMBEDDED_H_
#define SAGAWORKS_MIGRATIONS_EMBEDDED_H_

#include <string_view>
#include <utility>
#include <vector>

namespace sagaworks::migrations {

using Files = std::vector<std::pair<std::string_view, std::string_view>>;

const Files& order();
const Files& payment();
const Files& inventory();
const Files& shipping();
const Files& orchestrator();
// demo: "inventory.sql" and "payment.sql", for those services' databases.
const Files& demo();

}  // namespace sagaworks::migrations

#endif  // SAGAWORKS_MIGRATIONS_EMBEDDED_H_
