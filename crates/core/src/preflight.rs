//! Checks made once per rollout, before any target is touched.

use crate::ports::{PortError, ValidateTemplate};
use crate::spec::{RolloutSpec, SpecError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreflightError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error("CloudFormation refused the template: {0}")]
    Template(PortError),
    #[error("could not validate the template: {0}")]
    Unreachable(PortError),
}

/// Validates the spec locally, then has CloudFormation validate the template once. A spec that
/// fails locally costs no AWS call.
pub async fn preflight<V: ValidateTemplate>(validator: &V, spec: &RolloutSpec) -> Result<(), PreflightError> {
    spec.validate()?;
    match validator.validate_template(&spec.template).await {
        Ok(()) => Ok(()),
        Err(error @ PortError::TemplateInvalid(_)) => Err(PreflightError::Template(error)),
        Err(error) => Err(PreflightError::Unreachable(error)),
    }
}
