// Input validation shared by every service.
#include "common/validation.h"

#include <cstdint>
#include <string>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace sagaworks {
namespace {

v1::Address GoodAddress() {
  v1::Address a;
  a.set_name("Alice");
  a.set_line1("1 Main St");
  a.set_city("Berlin");
  a.set_postal_code("10115");
  a.set_country("DE");
  return a;
}

google::protobuf::RepeatedPtrField<v1::OrderItem> Items(int n, int qty) {
  google::protobuf::RepeatedPtrField<v1::OrderItem> items;
  for (int i = 0; i < n; ++i) {
    v1::OrderItem* item = items.Add();
    item->set_sku("sku-" + std::to_string(i));
    item->set_quantity(qty);
  }
  return items;
}

TEST(ValidationTest, UuidMustBeCanonical) {
  EXPECT_TRUE(
      ValidateUuid("order_id", "123e4567-e89b-12d3-a456-426614174000").ok());
  EXPECT_EQ(ValidateUuid("order_id", "").message(), "order_id is required");
  EXPECT_FALSE(
      ValidateUuid("order_id", "123e4567e89b12d3a456426614174000").ok());
  EXPECT_FALSE(
      ValidateUuid("order_id", "zzzzzzzz-e89b-12d3-a456-426614174000").ok());
}

TEST(ValidationTest, NamesAreShortAndPlain) {
  EXPECT_TRUE(ValidateName("customer_id", "alice").ok());
  EXPECT_EQ(ValidateName("customer_id", "").message(),
            "customer_id is required");
  EXPECT_FALSE(ValidateName("customer_id", std::string(65, 'a')).ok());
  EXPECT_FALSE(ValidateName("customer_id", "al ice").ok());
  EXPECT_FALSE(ValidateName("customer_id", "alice'; DROP TABLE").ok());
}

TEST(ValidationTest, ItemsNeedPositiveBoundedQuantitiesAndDistinctSkus) {
  EXPECT_TRUE(ValidateItems(Items(1, 1)).ok());
  EXPECT_TRUE(ValidateItems(Items(kMaxOrderItems, kMaxItemQuantity)).ok());
  EXPECT_EQ(ValidateItems(Items(0, 1)).message(),
            "items: at least one item is required");
  absl::Status negative = ValidateItems(Items(1, -1));
  EXPECT_EQ(negative.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(negative.message().find("items[0].quantity is -1"),
            absl::string_view::npos);
  EXPECT_FALSE(ValidateItems(Items(1, 0)).ok());
  EXPECT_FALSE(ValidateItems(Items(1, kMaxItemQuantity + 1)).ok());
  EXPECT_FALSE(ValidateItems(Items(kMaxOrderItems + 1, 1)).ok());
  auto dup = Items(2, 1);
  dup[1].set_sku(dup[0].sku());
  EXPECT_NE(ValidateItems(dup).message().find("more than once"),
            absl::string_view::npos);
}

TEST(ValidationTest, AddressNeedsEveryLineAndAnIsoCountry) {
  EXPECT_TRUE(ValidateAddress(GoodAddress()).ok());
  v1::Address a = GoodAddress();
  a.set_city("   ");
  EXPECT_EQ(ValidateAddress(a).message(), "shipping_address.city is required");
  a = GoodAddress();
  a.set_country("Germany");
  EXPECT_FALSE(ValidateAddress(a).ok());
  a = GoodAddress();
  a.set_line1(std::string(kMaxTextLength + 1, 'x'));
  EXPECT_FALSE(ValidateAddress(a).ok());
  a = GoodAddress();
  a.set_name("Bad\x01Name");
  EXPECT_FALSE(ValidateAddress(a).ok());
  a = GoodAddress();
  a.set_name("M\xc3\xbcller");  // UTF-8 is fine
  EXPECT_TRUE(ValidateAddress(a).ok());
  a.set_name("M\xc3");  // truncated UTF-8 is not
  EXPECT_FALSE(ValidateAddress(a).ok());
}

// PostgreSQL refuses text that is not well-formed UTF-8: what validation
// lets through must be storable.
TEST(ValidationTest, TextMustBeWellFormedUtf8) {
  EXPECT_TRUE(
      ValidateText("name", "J\xc3\xbcrgen \xe2\x82\xac \xf0\x9f\x98\x80", true)
          .ok());
  for (const char* bad : {
           "\xed\xa0\x80",      // a surrogate
           "\xc0\xaf",          // an overlong '/'
           "\xe0\x80\xaf",      // another
           "\xf0\x80\x80\xaf",  // and another
           "\xf4\x90\x80\x80",  // past U+10FFFF
           "\xc3",              // cut short
           "\x80",              // a stray continuation byte
           "a\x01b",            // a control character
       }) {
    EXPECT_FALSE(ValidateText("name", bad, true).ok()) << absl::CEscape(bad);
  }
}

TEST(ValidationTest, CleanTextKeepsWholeCharactersWithinTheLimit) {
  // 'é' is two bytes: a cut at an odd byte drops the whole character.
  std::string text;
  for (int i = 0; i < 600; ++i) text += "\xc3\xa9";
  const std::string cut = CleanText(text, 1001);
  EXPECT_EQ(cut.size(), 1000u);
  EXPECT_TRUE(ValidateText("t", cut.substr(0, 200), false).ok());
  constexpr char kNoisy[] = "payment: \xff\xfe down\n\x00!";
  EXPECT_EQ(CleanText(absl::string_view(kNoisy, sizeof(kNoisy) - 1), 100),
            "payment: \xef\xbf\xbd\xef\xbf\xbd down \xef\xbf\xbd!");
  EXPECT_EQ(CleanText("\xed\xa0\x80", 10),
            "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(CleanText("abc", 0), "");
  // A replacement that does not fit is dropped, not cut.
  EXPECT_EQ(CleanText("ab\xff", 4), "ab");
}

TEST(ValidationTest, LineTotalsNeverOverflow) {
  int64_t total = 0;
  EXPECT_TRUE(AddLineTotal(1999, 2, &total).ok());
  EXPECT_EQ(total, 3998);
  total = 0;
  EXPECT_TRUE(AddLineTotal(INT64_MAX / 10000, 10000, &total).ok());
  total = 0;
  absl::Status s = AddLineTotal(INT64_MAX / 2, 3, &total);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("would exceed"), std::string::npos) << s;
  total = INT64_MAX - 1;
  EXPECT_FALSE(AddLineTotal(1, 2, &total).ok());
  total = 0;
  EXPECT_FALSE(AddLineTotal(-5, 1, &total).ok());
}

}  // namespace
}  // namespace sagaworks
