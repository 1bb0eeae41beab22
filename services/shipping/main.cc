// shipping-service: one shipment per order; refuses undeliverable countries.
#include <string>
#include <vector>

#include "common/server/process.h"
#include "migrations/embedded.h"
#include "services/shipping/shipping_service.h"

int main(int argc, char** argv) {
  using namespace sagaworks;
  server::Process process(platform::Service::kShipping);
  std::vector<std::string> undeliverable = {"ZZ"};
  process.app()
      .add_option("--undeliverable-countries", undeliverable,
                  "ISO country codes shipping refuses, comma-separated")
      ->envname("SAGAWORKS_UNDELIVERABLE_COUNTRIES")
      ->delimiter(',')
      ->check(CLI::Validator(
          [](std::string& code) -> std::string {
            if (code.size() == 2 && std::isupper(code[0]) &&
                std::isupper(code[1])) {
              return "";
            }
            return "'" + code + "' is not a two-letter upper-case ISO code";
          },
          "ISO"))
      ->capture_default_str();
  if (auto code = process.ParseFlags(argc, argv)) return *code;
  auto pool = process.OpenDatabase(migrations::ForService(process.info().name));
  if (!pool.ok()) return process.Fail(pool.status());

  shipping::ShippingStore store(**pool);
  shipping::ShippingRules rules;
  rules.undeliverable_countries = {undeliverable.begin(), undeliverable.end()};
  auto idempotency = process.MakeIdempotency();
  if (!idempotency.ok()) return process.Fail(idempotency.status());
  shipping::ShippingServiceImpl service(store, std::move(rules),
                                        process.guard(), **idempotency);
  process.server().Register(&service, process.info().grpc_service);
  return process.Serve();
}
