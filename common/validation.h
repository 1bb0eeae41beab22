// Input checks shared by every service's adapter. Each returns
// INVALID_ARGUMENT naming the field, so a caller knows what to fix.
#ifndef SAGAWORKS_COMMON_VALIDATION_H_
#define SAGAWORKS_COMMON_VALIDATION_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "sagaworks/v1/common.pb.h"

namespace sagaworks {

// Limits shared by every service; an order larger than this is refused
// everywhere alike.
inline constexpr int kMaxOrderItems = 100;
inline constexpr int kMaxItemQuantity = 10000;
inline constexpr size_t kMaxIdLength = 64;
inline constexpr size_t kMaxTextLength = 200;

// ValidateUuid checks an id the platform issued (order, saga, ...).
absl::Status ValidateUuid(absl::string_view field, absl::string_view value);

// ValidateName checks a caller-chosen identifier (customer id, SKU):
// 1-64 characters of [A-Za-z0-9._-].
absl::Status ValidateName(absl::string_view field, absl::string_view value);

// ValidateText checks free text: at most kMaxTextLength bytes of valid UTF-8
// without control characters; `required` also refuses empty text.
absl::Status ValidateText(absl::string_view field, absl::string_view value,
                          bool required);

// ValidateItems checks an order's lines: 1-100 lines, distinct SKUs,
// quantities 1-10000.
absl::Status ValidateItems(
    const google::protobuf::RepeatedPtrField<v1::OrderItem>& items);

// ValidateAddress checks a delivery address: name, line1, city and postal
// code present, country a two-letter upper-case code.
absl::Status ValidateAddress(const v1::Address& address);

// CleanText makes text from elsewhere (another service's error message)
// safe to store and show: each ill-formed UTF-8 byte and each control
// character becomes U+FFFD (a newline or tab a space), and the result is cut
// to at most `max_bytes` on a character boundary.
std::string CleanText(absl::string_view text, size_t max_bytes);

// AddLineTotal adds price x quantity to *total_cents; FAILED_PRECONDITION,
// with *total_cents unspecified, when a factor is negative or the sum leaves
// int64 (signed overflow is undefined, and a wrapped total could charge a
// small or negative amount).
absl::Status AddLineTotal(int64_t unit_price_cents, int64_t quantity,
                          int64_t* total_cents);

// ValidateCancel checks a cancellation: the order's id and an optional
// reason.
absl::Status ValidateCancel(absl::string_view order_id,
                            absl::string_view reason);

}  // namespace sagaworks

#endif  // SAGAWORKS_COMMON_VALIDATION_H_
