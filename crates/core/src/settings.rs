//! Instance settings: the name shown in the UI and the public URL used in links.

use crate::{Result, validate};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceSettings {
    /// Shown in the page title and header.
    pub instance_name: String,
    /// The address people use to reach Opsdeck, for links in notifications.
    pub public_url: Option<String>,
}

impl Default for InstanceSettings {
    fn default() -> Self {
        InstanceSettings { instance_name: "Opsdeck".into(), public_url: None }
    }
}

impl InstanceSettings {
    pub fn new(instance_name: &str, public_url: Option<&str>) -> Result<Self> {
        Ok(InstanceSettings {
            instance_name: validate::name("instance_name", instance_name)?,
            public_url: validate::optional_url("public_url", public_url)?,
        })
    }
}
