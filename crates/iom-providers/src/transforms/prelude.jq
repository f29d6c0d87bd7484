# Definitions available to every transformation program.
#
# Money must not go through floating point (0.1 + 0.2 is not 0.3 in a double), and jq numbers
# are doubles as soon as they are not integers. The dec_* definitions below therefore do decimal
# arithmetic on strings, through integer minor units, exactly.

# "" and null both mean "not given" in the sources' JSON.
def blank: . == null or . == "";
def nonblank: if blank then null else . end;

# A decimal string or number as {u: integer units, s: scale}: "12.30" -> {u: 1230, s: 2}.
def dec_parse:
  (if type == "number" then tostring else . end) as $t
  | if ($t | type) != "string" or ($t | test("^-?[0-9]+(\\.[0-9]+)?$") | not)
    then error("\($t | tojson) is not a decimal amount")
    else ($t | split(".")) as $p
      | {u: (($p[0] + ($p[1] // "")) | tonumber), s: (($p[1] // "") | length)}
    end;

# The same amount with at least $s decimals.
def dec_rescale($s):
  if .s >= $s then . else {u: (reduce range(.s; $s) as $_ (.u; . * 10)), s: $s} end;

# {u, s} back to a decimal string.
def dec_format:
  .s as $s | .u as $u
  | ($u | if . < 0 then -. else . end | tostring) as $digits
  | (if ($digits | length) <= $s
     then ([range($s - ($digits | length) + 1)] | map("0") | join("")) + $digits
     else $digits end) as $d
  | (if $u < 0 then "-" else "" end)
    + (if $s == 0 then $d else $d[:($d | length) - $s] + "." + $d[($d | length) - $s:] end);

# money_sum (the exact sum of an array of decimal strings or numbers, nulls skipped; null when
# empty) and split_total($qty) (a line total as {unit_price, rounding} with
# unit_price × $qty − rounding = total) are native filters of iom (src/jq/money.rs): the same
# results, without the cost of string arithmetic in jq.

# Strings as they come; numbers (ids) as strings; null stays null.
def text: if . == null then null else tostring end;
