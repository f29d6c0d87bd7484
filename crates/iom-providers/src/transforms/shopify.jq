# Shopify order -> iom order intake.
#
# Accepts what Shopify sends and returns: the bare order object (the body of the orders/create
# webhook), {"order": ...} (REST GET of one order) and {"orders": [...]} (REST list), and yields
# one intake per order.
#
# - external_id is Shopify's order id (stable, unique per shop); the shop-facing name ("#1001")
#   is kept in attributes.
# - A line's SKU is its sku, or the variant id when the merchant left sku empty (common for
#   bundles and custom products); the provider's SKU mapping can translate either.
# - Line discounts come from discount_allocations (newer API) or total_discount (older).
# - An order without line_items is refused: list responses filtered with fields= and some
#   newer payload shapes leave them out, and an order without lines cannot be fulfilled.
#
# This program is the reference for the built-in Shopify type, but iom runs the same mapping
# written in Rust (src/jq/shopify.rs) when an instance has no program of its own, because the
# interpreter was half the CPU cost of a webhook. A test (tests/it/shopify_native.rs) runs both
# on every Shopify sample and on edge cases and requires identical outputs and error messages:
# change them together.

def address:
  if . == null then null else {
    name: (.name // ([.first_name, .last_name] | map(select(blank | not)) | join(" ")) | nonblank),
    company: (.company | nonblank),
    line1: (.address1 | nonblank),
    line2: (.address2 | nonblank),
    city: (.city | nonblank),
    region: ((.province_code | nonblank) // (.province | nonblank)),
    postal_code: (.zip | nonblank),
    country: ((.country_code | nonblank) // (.country | nonblank)),
    phone: (.phone | nonblank),
    lat: (.latitude | if blank then null else tonumber end),
    lon: (.longitude | if blank then null else tonumber end)
  } end;

def line_discount:
  if (.discount_allocations | type) == "array" and (.discount_allocations | length) > 0
  then [.discount_allocations[].amount] | money_sum
  else (.total_discount | nonblank)
  end;

# Other Shopify resources sent to an order endpoint by mistake are named in the error.
def not_an_order:
  if has("fulfillment_order_line_items")
  then error("this is a Shopify fulfillment order (id \(.id), order \(.order_id)), not an order")
  elif (keys | length) == 1 and (to_entries[0].value | type == "object" or type == "array")
  then error("this is a Shopify \(keys[0]) document, not an order")
  else . end;

def order:
  not_an_order
  | if (.line_items | type) != "array"
  then error("Shopify order \(.id // .name // "?") has no line_items; fetch the single order (GET /orders/{id}.json) or the webhook payload, which include them")
  elif (.line_items | length) == 0
  then error("Shopify order \(.id // .name // "?") has no line items")
  else . end
  | {
      external_id: (.id | text),
      currency: (.currency // .presentment_currency),
      placed_at: (.processed_at // .created_at),
      customer: (
        if .customer then {
          id: (.customer.id | text),
          email: ((.customer.email | nonblank) // (.email | nonblank)),
          name: ([.customer.first_name, .customer.last_name] | map(select(blank | not)) | join(" ") | nonblank),
          phone: ((.customer.phone | nonblank) // (.phone | nonblank))
        } else {email: (.email | nonblank), phone: (.phone | nonblank)} end
      ),
      ship_to: (.shipping_address | address),
      bill_to: (.billing_address | address),
      lines: [.line_items | to_entries[] | .key as $i | .value | {
        line_no: ($i + 1),
        sku: ((.sku | nonblank) // (.variant_id | text)),
        quantity: .quantity,
        unit_price: .price,
        discount: line_discount,
        tax: ([.tax_lines[]?.price] | money_sum),
        attributes: {
          shopify_line_item_id: (.id | text),
          title: (.name // .title),
          variant_id: (.variant_id | text),
          product_id: (.product_id | text),
          properties: (.properties // [])
        }
      }],
      ship_method: ((.shipping_lines // [])[0] | if . == null then null else (.code // .title) end),
      shipping_amount: ([(.shipping_lines // [])[].price] | money_sum),
      attributes: {
        shopify_name: .name,
        shopify_order_number: .order_number,
        financial_status: .financial_status,
        tags: .tags,
        note: .note,
        note_attributes: ((.note_attributes // []) | map({(.name): .value}) | add)
      }
    };

if type != "object" then error("a Shopify order is a JSON object, found \(type)")
elif has("orders") then .orders[] | order
elif has("order") then .order | order
else order end
