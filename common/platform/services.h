// The platform's processes, declared once: each one's names, default ports,
// database and the services it calls. Every main.cc, sagactl, the tests and
// the benchmarks read this table; a test checks docker-compose.yml,
// tools/compose/ and the README's table against it, so adding a service
// starts here (docs/contributing.md, "Add a service").
//
// Example:
//   const platform::ServiceInfo& payment = platform::Info(Service::kPayment);
//   Dial(platform::LocalAddress(payment));  // "127.0.0.1:50052"
#ifndef SAGAWORKS_COMMON_PLATFORM_SERVICES_H_
#define SAGAWORKS_COMMON_PLATFORM_SERVICES_H_

#include <string>
#include <string_view>
#include <vector>

namespace sagaworks::platform {

// Service names one process of the platform.
enum class Service {
  kOrder,
  kPayment,
  kInventory,
  kShipping,
  kOrchestrator,
  // Not a service: one past the last, so a test can walk every enumerator.
  kEnd,
};

// ServiceInfo is one row of the table.
struct ServiceInfo {
  Service id;
  // What users type (`sagactl kill payment`); also the prefix of the flags
  // that point at it (--payment-address, SAGAWORKS_PAYMENT_ADDRESS), its name
  // as a downstream in resilience settings and metrics, its folder under
  // migrations/ and its demo data file.
  std::string name;
  // The binary, the process name in logs and traces (service.name), and the
  // service's name in docker-compose.yml.
  std::string binary;
  // The gRPC service it serves, full name.
  std::string grpc_service;
  int port;       // gRPC, local default
  int http_port;  // /metrics and /health/*, local default
  // Its own database (one per service, all in one local cluster).
  std::string database;
  // The services it calls; each gets an --<name>-address flag.
  std::vector<Service> peers;
  // A few words for --help ("payment service").
  std::string what;
};

// Services lists every process in start order: a service comes after those
// its start-up work needs (the order service after the orchestrator it
// hands orders to).
const std::vector<ServiceInfo>& Services();

// Info is a service's row.
const ServiceInfo& Info(Service id);

// Find maps a name ("payment") or binary ("payment-service") to its row;
// null when there is none.
const ServiceInfo* Find(std::string_view name);

// LocalAddress is "127.0.0.1:<default gRPC port>".
std::string LocalAddress(const ServiceInfo& service);

// kLocalDatabasePort is where `sagactl up` runs PostgreSQL.
inline constexpr int kLocalDatabasePort = 54329;

// kDatabaseSuperuser is the role that sets the databases up; the services
// never connect as it.
inline constexpr std::string_view kDatabaseSuperuser = "sagaworks";

// DatabaseRole is the PostgreSQL role a service connects as, the owner of
// its database and of nothing else ("sagaworks_payment").
std::string DatabaseRole(const ServiceInfo& service);

// LocalDatabaseUrl is the service's database in the cluster `sagactl up`
// runs, as its own role, with the password file `sagactl up` writes
// (relative to the checkout).
std::string LocalDatabaseUrl(const ServiceInfo& service);

}  // namespace sagaworks::platform

#endif  // SAGAWORKS_COMMON_PLATFORM_SERVICES_H_
