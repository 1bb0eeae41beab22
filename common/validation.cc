#include "common/validation.h"

#include <set>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace sagaworks {
namespace {

bool IsHex(char c) {
  return absl::ascii_isxdigit(static_cast<unsigned char>(c));
}

// Accepts UTF-8 up to 4-byte sequences; rejects C0 controls and DEL.
bool IsCleanUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    int extra;
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) return false;
      extra = 0;
    } else if ((c & 0xe0) == 0xc0 && c >= 0xc2) {
      extra = 1;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2;
    } else if ((c & 0xf8) == 0xf0 && c <= 0xf4) {
      extra = 3;
    } else {
      return false;
    }
    if (extra > 0 && i + extra >= s.size()) return false;
    for (int k = 1; k <= extra; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
    }
    i += extra + 1;
  }
  return true;
}

}  // namespace

absl::Status ValidateUuid(absl::string_view field, absl::string_view value) {
  if (value.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, " is required"));
  }
  bool ok = value.size() == 36;
  for (size_t i = 0; ok && i < value.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    ok = dash ? value[i] == '-' : IsHex(value[i]);
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, " '", value.substr(0, kMaxIdLength),
        "' is not a UUID (like 123e4567-e89b-12d3-a456-426614174000)"));
  }
  return absl::OkStatus();
}

absl::Status ValidateName(absl::string_view field, absl::string_view value) {
  if (value.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, " is required"));
  }
  if (value.size() > kMaxIdLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, " is ", value.size(), " characters; at most ", kMaxIdLength));
  }
  for (char c : value) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' &&
        c != '_' && c != '-') {
      return absl::InvalidArgumentError(absl::StrCat(
          field, " may contain only letters, digits, '.', '_' and '-'"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateText(absl::string_view field, absl::string_view value,
                          bool required) {
  if (required && absl::StripAsciiWhitespace(value).empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, " is required"));
  }
  if (value.size() > kMaxTextLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, " is ", value.size(), " bytes; at most ", kMaxTextLength));
  }
  if (!IsCleanUtf8(value)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " must be UTF-8 text without control characters"));
  }
  return absl::OkStatus();
}

absl::Status ValidateItems(
    const google::protobuf::RepeatedPtrField<v1::OrderItem>& items) {
  if (items.empty()) {
    return absl::InvalidArgumentError("items: at least one item is required");
  }
  if (items.size() > kMaxOrderItems) {
    return absl::InvalidArgumentError(absl::StrCat(
        "items: ", items.size(), " items; at most ", kMaxOrderItems));
  }
  std::set<std::string> seen;
  for (int i = 0; i < items.size(); ++i) {
    const v1::OrderItem& item = items[i];
    const std::string where = absl::StrCat("items[", i, "]");
    if (absl::Status s = ValidateName(absl::StrCat(where, ".sku"), item.sku());
        !s.ok()) {
      return s;
    }
    if (item.quantity() < 1 || item.quantity() > kMaxItemQuantity) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".quantity is ", item.quantity(),
                       "; it must be between 1 and ", kMaxItemQuantity));
    }
    if (!seen.insert(item.sku()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".sku '", item.sku(),
                       "' appears more than once; give each SKU one line"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateAddress(const v1::Address& address) {
  struct Field {
    const char* name;
    const std::string& value;
  };
  for (const Field& f :
       {Field{"shipping_address.name", address.name()},
        Field{"shipping_address.line1", address.line1()},
        Field{"shipping_address.city", address.city()},
        Field{"shipping_address.postal_code", address.postal_code()}}) {
    if (absl::Status s = ValidateText(f.name, f.value, /*required=*/true);
        !s.ok()) {
      return s;
    }
  }
  const std::string& country = address.country();
  if (country.size() != 2 || !absl::ascii_isupper(country[0]) ||
      !absl::ascii_isupper(country[1])) {
    return absl::InvalidArgumentError(
        "shipping_address.country must be a two-letter ISO code such as "
        "\"DE\"");
  }
  return absl::OkStatus();
}

absl::Status ValidateCancel(absl::string_view order_id,
                            absl::string_view reason) {
  if (absl::Status s = ValidateUuid("order_id", order_id); !s.ok()) return s;
  return ValidateText("reason", reason, /*required=*/false);
}

}  // namespace sagaworks
