// Input validation shared by every service.
#include "common/validation.h"

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

}  // namespace
}  // namespace sagaworks
