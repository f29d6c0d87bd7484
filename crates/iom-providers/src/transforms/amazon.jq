# Amazon Selling Partner API (Orders v0) order and its items -> iom order intake.
#
# getOrder does not return items, so the input gathers both responses the connector fetched:
#
#   {"order": <Order, or a getOrder / getOrders response holding one order>,
#    "items": <getOrderItems response, or its OrderItems array>}
#
# - ItemPrice is the price of the whole line (unit price × quantity). It is split into a unit
#   price rounded up to the cent and a rounding discount, so the line total stays exact.
# - ItemTax and PromotionDiscount become the line's tax and discount.
# - The currency is OrderTotal's; getOrders results of pending orders have no OrderTotal, then
#   the items' ItemPrice currency is used. Items in another currency are refused.
# - Pending orders have no item prices yet; they are refused with a clear error, to be fetched
#   again once Amazon has priced them.

def payload: if type == "object" and has("payload") then .payload else . end;

. as $in
| ($in.order // error("the input must be {\"order\": ..., \"items\": ...}")) | payload
| (if type == "object" and has("Orders") then
     (.Orders | if length == 1 then .[0] else error("the getOrders response holds \(length) orders; pass one order with its items") end)
   else . end) as $o
| ($in.items // error("Amazon order \($o.AmazonOrderId): its OrderItems (getOrderItems) are required"))
| payload
| (if type == "array" then {OrderItems: .} else . end) as $it
| if $it.AmazonOrderId != null and $it.AmazonOrderId != $o.AmazonOrderId
  then error("the items belong to Amazon order \($it.AmazonOrderId), not \($o.AmazonOrderId)")
  else . end
| ($it.OrderItems // []) as $items
| if ($items | length) == 0 then error("Amazon order \($o.AmazonOrderId) has no items") else . end
| ($o.OrderTotal.CurrencyCode // ([$items[].ItemPrice.CurrencyCode // empty] | first)) as $currency
| {
    external_id: $o.AmazonOrderId,
    currency: $currency,
    placed_at: $o.PurchaseDate,
    customer: ($o.BuyerInfo | if . == null then null else {
      email: (.BuyerEmail | nonblank),
      name: (.BuyerName | nonblank)
    } end),
    ship_to: ($o.ShippingAddress | if . == null then null else {
      name: (.Name | nonblank),
      company: (.CompanyName | nonblank),
      line1: (.AddressLine1 | nonblank),
      line2: ([.AddressLine2, .AddressLine3] | map(select(blank | not)) | join(", ") | nonblank),
      city: (.City | nonblank),
      region: (.StateOrRegion | nonblank),
      postal_code: (.PostalCode | nonblank),
      country: (.CountryCode | nonblank),
      phone: (.Phone | nonblank)
    } end),
    ship_method: (($o.ShipmentServiceLevelCategory | nonblank) // ($o.ShipServiceLevel | nonblank)),
    shipping_amount: ([$items[].ShippingPrice.Amount] | money_sum),
    requested_delivery_at: $o.LatestDeliveryDate,
    lines: [$items | to_entries[] | .key as $i | .value
      | if .ItemPrice == null
        then error("Amazon order \($o.AmazonOrderId), item \(.OrderItemId): no ItemPrice (pending orders are priced later)")
        elif .ItemPrice.CurrencyCode != $currency
        then error("Amazon order \($o.AmazonOrderId), item \(.OrderItemId): price in \(.ItemPrice.CurrencyCode), order in \($currency)")
        else . end
      | (.QuantityOrdered // 0) as $qty
      | (.ItemPrice.Amount | split_total($qty)) as $price
      | {
          line_no: ($i + 1),
          sku: ((.SellerSKU | nonblank) // .ASIN),
          quantity: .QuantityOrdered,
          unit_price: $price.unit_price,
          discount: ([$price.rounding, .PromotionDiscount.Amount] | money_sum),
          tax: .ItemTax.Amount,
          attributes: {
            amazon_order_item_id: .OrderItemId,
            asin: .ASIN,
            title: .Title
          }
        }
    ],
    attributes: {
      amazon_order_status: $o.OrderStatus,
      fulfillment_channel: $o.FulfillmentChannel,
      marketplace_id: $o.MarketplaceId,
      is_prime: $o.IsPrime,
      is_business_order: $o.IsBusinessOrder,
      purchase_order_number: $o.BuyerInfo.PurchaseOrderNumber
    }
  }
