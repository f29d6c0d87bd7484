//! Glue between the store and the fulfilment engine for the HTTP handlers and `iom simulate`: the
//! async loaders over [`iom_flow::executor::planning`], which the `plan-fulfillment` step shares.

use iom_dom::{Availability, Network, Profile};
use iom_store::Store;
use iom_store::nodes::DocKind;

pub use iom_flow::executor::planning::{
    DEFAULT_PROFILE, SetupError, availability_of, group_of, network_of, node_of, profile_of,
};

impl From<SetupError> for crate::error::ApiError {
    fn from(e: SetupError) -> Self {
        match e {
            SetupError::Store(e) => e.into(),
            other => crate::error::ApiError::internal(other),
        }
    }
}

/// All stored nodes and node groups as one network.
pub async fn load_network(store: &Store) -> Result<Network, SetupError> {
    let nodes = store.list_nodes().await?;
    let groups = store.list_docs(DocKind::NodeGroup).await?;
    network_of(&nodes, &groups)
}

/// The profile called `name`; without a name the stored profile `default`, else the engine's
/// default. `Ok(None)` when a named profile does not exist.
pub async fn load_profile(
    store: &Store,
    name: Option<&str>,
) -> Result<Option<Profile>, SetupError> {
    let wanted = name.unwrap_or(DEFAULT_PROFILE);
    match store.get_doc(DocKind::Profile, wanted.to_owned()).await? {
        Some(doc) => Ok(Some(profile_of(&doc)?)),
        None if name.is_none() => Ok(Some(Profile::default())),
        None => Ok(None),
    }
}

/// What can be promised of `skus` at every node of `network`, from the stored balances.
pub async fn load_availability(
    store: &Store,
    network: &Network,
    skus: Vec<String>,
) -> Result<Availability, SetupError> {
    let balances = if skus.is_empty() {
        Vec::new()
    } else {
        store.balances(skus, Vec::new()).await?
    };
    Ok(availability_of(network, &balances))
}
