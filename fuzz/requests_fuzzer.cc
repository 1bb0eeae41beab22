// Fuzzes the request validation of every RPC with messages parsed from the
// fuzzer's bytes (the first byte picks the request type), and checks the
// property the services rely on: text that validation accepts is text
// PostgreSQL stores as it is.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/page_token.h"
#include "common/validation.h"
#include "orchestrator/orchestrator_service.h"
#include "services/inventory/inventory_service.h"
#include "services/order/order_service.h"
#include "services/payment/payment_service.h"
#include "services/shipping/shipping_service.h"

namespace sagaworks {
namespace {

// Storable: CleanText would change nothing, so the text holds no ill-formed
// UTF-8 and no control character (NUL among them).
void ExpectStorable(const std::string& text) {
  if (CleanText(text, text.size()) != text) abort();
}

void ExpectStorable(const v1::Address& a) {
  for (const std::string* s :
       {&a.name(), &a.line1(), &a.city(), &a.postal_code(), &a.country()}) {
    ExpectStorable(*s);
  }
}

template <typename Items>
void ExpectStorableItems(const Items& items) {
  for (const v1::OrderItem& item : items) ExpectStorable(item.sku());
}

template <typename Request>
bool Parse(const std::string& bytes, Request* request) {
  return request->ParseFromString(bytes);
}

}  // namespace
}  // namespace sagaworks

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sagaworks;
  if (size == 0) return 0;
  const std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 8) {
    case 0: {  // OrderService/CreateOrder
      v1::CreateOrderRequest r;
      if (!Parse(bytes, &r) || !order::ValidateCreateOrder(r).ok()) return 0;
      ExpectStorable(r.customer_id());
      ExpectStorableItems(r.items());
      ExpectStorable(r.shipping_address());
      break;
    }
    case 1: {  // OrderService/CancelOrder
      v1::CancelOrderRequest r;
      if (!Parse(bytes, &r) || !ValidateCancel(r.order_id(), r.reason()).ok()) {
        return 0;
      }
      ExpectStorable(r.reason());
      break;
    }
    case 2: {  // OrderService/RejectOrder, HoldOrder: cleaned, never refused
      v1::RejectOrderRequest r;
      if (!Parse(bytes, &r)) return 0;
      const std::string reason = CleanText(r.reason(), 1000);
      if (reason.size() > 1000) abort();
      ExpectStorable(reason);
      break;
    }
    case 3: {  // InventoryService/ReserveStock
      v1::ReserveStockRequest r;
      if (!Parse(bytes, &r) || !inventory::ValidateReserveStock(r).ok()) {
        return 0;
      }
      ExpectStorableItems(r.items());
      break;
    }
    case 4: {  // PaymentService/Charge
      v1::ChargeRequest r;
      if (!Parse(bytes, &r) || !payment::ValidateCharge(r).ok()) return 0;
      ExpectStorable(r.customer_id());
      if (r.amount_cents() <= 0) abort();
      break;
    }
    case 5: {  // ShippingService/CreateShipment
      v1::CreateShipmentRequest r;
      if (!Parse(bytes, &r) || !shipping::ShippingRules().Check(r).ok()) {
        return 0;
      }
      ExpectStorableItems(r.items());
      ExpectStorable(r.address());
      break;
    }
    case 6: {  // SagaOrchestrator/StartSaga
      v1::StartSagaRequest r;
      if (!Parse(bytes, &r) || !orchestrator::ValidateStartSaga(r).ok()) {
        return 0;
      }
      ExpectStorableItems(r.items());
      break;
    }
    case 7: {  // OrderService/ListOrders: page size and token
      v1::ListOrdersRequest r;
      if (!Parse(bytes, &r)) return 0;
      (void)ClampPageSize(r.page_size());
      (void)DecodePageToken(r.page_token());
      break;
    }
  }
  return 0;
}
