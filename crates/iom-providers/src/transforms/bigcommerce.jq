# BigCommerce (API v2) order and its products -> iom order intake.
#
# A v2 order does not embed its lines or shipping addresses, only links to them
# (/orders/{id}/products, /orders/{id}/shippingaddresses), so the input gathers what the
# connector fetched:
#
#   {"order": <order, or the one-element array GET /orders returns>,
#    "products": [<order product>, ...],
#    "shipping_addresses": [<shipping address>, ...]   (optional; digital orders have none)}
#
# - Dates are RFC 2822 ("Fri, 02 Mar 2012 21:36:24 +0000") and are turned into RFC 3339.
# - Prices are taken excluding tax; the line's tax goes to tax.
# - customer_id 0 means a guest checkout: no customer id.

def rfc2822_to_rfc3339:
  . as $raw
  | (split(" ") | map(select(. != ""))
     | if (.[0] | endswith(",")) then .[1:] else . end) as $p
  | {"Jan":"01","Feb":"02","Mar":"03","Apr":"04","May":"05","Jun":"06",
     "Jul":"07","Aug":"08","Sep":"09","Oct":"10","Nov":"11","Dec":"12"}[$p[1] // ""] as $month
  | if ($p | length) != 5 or $month == null or ($p[4] | test("^[+-][0-9]{4}$") | not)
    then error("\($raw | tojson) is not an RFC 2822 date")
    else "\($p[2])-\($month)-\($p[0] | if length == 1 then "0" + . else . end)T\($p[3])\($p[4][:3]):\($p[4][3:])"
    end;

# Stores send some text fields as JSON numbers (a zip of 99362, a phone of 5095550100): every
# field is taken as text.
def address:
  if . == null then null else {
    name: ([.first_name, .last_name] | map(select(blank | not) | text) | join(" ") | nonblank),
    company: (.company | text | nonblank),
    line1: (.street_1 | text | nonblank),
    line2: (.street_2 | text | nonblank),
    city: (.city | text | nonblank),
    region: (.state | text | nonblank),
    postal_code: (.zip | text | nonblank),
    country: ((.country_iso2 | text | nonblank) // (.country | text | nonblank)),
    phone: (.phone | text | nonblank)
  } end;

. as $in
| ($in.order // error("the input must be {\"order\": ..., \"products\": [...]}"))
| (if type == "array" then
     (if length == 1 then .[0] else error("\(length) orders given; pass one order with its products") end)
   else . end) as $o
| ($in.products
   | if type == "array" then .
     else error("BigCommerce order \($o.id): products are not embedded (\($o.products.resource // "/orders/\($o.id)/products")); fetch them and pass them as products")
     end) as $products
| if ($products | length) == 0 then error("BigCommerce order \($o.id) has no products") else . end
| (($in.shipping_addresses // [])[0]) as $ship
| {
    external_id: ($o.id | text),
    currency: ((($o.currency_code | nonblank) // ($o.default_currency_code | nonblank))),
    placed_at: ($o.date_created | if blank then null else rfc2822_to_rfc3339 end),
    customer: {
      id: (if ($o.customer_id // 0) == 0 then null else ($o.customer_id | text) end),
      email: ($o.billing_address.email | text | nonblank),
      name: ([$o.billing_address.first_name, $o.billing_address.last_name] | map(select(blank | not) | text) | join(" ") | nonblank),
      phone: ($o.billing_address.phone | text | nonblank)
    },
    bill_to: ($o.billing_address | address),
    ship_to: ($ship | address),
    ship_method: ($ship.shipping_method | text | nonblank),
    shipping_amount: ($o.shipping_cost_ex_tax | nonblank),
    lines: [$products | to_entries[] | .key as $i | .value | {
      line_no: ($i + 1),
      sku: ((.sku | text | nonblank) // ("product:" + (.product_id | text))),
      quantity: .quantity,
      unit_price: (.price_ex_tax // .base_price),
      discount: ([(.applied_discounts // [])[].amount] | money_sum),
      tax: (.total_tax | nonblank),
      attributes: {
        bigcommerce_product_id: (.product_id | text),
        bigcommerce_line_id: (.id | text),
        title: .name
      }
    }],
    attributes: {
      bigcommerce_status: $o.status,
      payment_method: $o.payment_method,
      order_is_digital: $o.order_is_digital,
      customer_message: ($o.customer_message | nonblank)
    }
  }
