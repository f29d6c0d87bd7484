//! Secrets in a configuration file are references to environment variables, never values.
//!
//! Export names them `IOM_SECRET_<INSTANCE>_<FIELD>` for a provider instance's secret
//! connection field and `IOM_SECRET_SUBSCRIPTION_<NAME>` for a subscription's signing secret:
//! the names upper-cased, every character other than a letter or digit turned into `_`
//! (`shop-eu`'s `access_token` is `IOM_SECRET_SHOP_EU_ACCESS_TOKEN`). Import resolves each
//! reference in its own environment: a variable that is set replaces the secret (when its value
//! differs from the stored one); a variable that is not set leaves the secret as the target has
//! it, unset on a new object, and the report says so.

use iom_providers::secrets::MasterKey;

use super::document::SecretRef;

fn part(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// The reference export writes for a provider instance's secret field.
pub fn provider_ref(instance: &str, field: &str) -> SecretRef {
    SecretRef {
        env: format!("IOM_SECRET_{}_{}", part(instance), part(field)),
    }
}

/// The reference export writes for a subscription's signing secret.
pub fn subscription_ref(name: &str) -> SecretRef {
    SecretRef {
        env: format!("IOM_SECRET_SUBSCRIPTION_{}", part(name)),
    }
}

/// Whether the sealed `stored` secret (sealed for `context`) holds `value`; false when it cannot
/// be opened (sealed with another key).
pub fn same(key: Option<&MasterKey>, stored: Option<&str>, context: &str, value: &str) -> bool {
    match (key, stored) {
        (Some(key), Some(sealed)) => key
            .open(sealed, context)
            .is_ok_and(|plain| plain == value.as_bytes()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_upper_case_letters_digits_and_underscores() {
        assert_eq!(
            super::provider_ref("shop-eu", "access_token").env,
            "IOM_SECRET_SHOP_EU_ACCESS_TOKEN"
        );
        assert_eq!(
            super::subscription_ref("erp.v2").env,
            "IOM_SECRET_SUBSCRIPTION_ERP_V2"
        );
    }
}
