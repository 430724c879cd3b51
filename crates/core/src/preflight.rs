//! Checks made once per rollout, before any target is touched.

use crate::ports::{PortError, ValidateTemplate, ValidatedTemplate};
use crate::spec::{RolloutSpec, SpecError, TemplateSource};

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
/// fails locally costs no AWS call. The NoEcho parameters are CloudFormation's answer together
/// with what an inline body declares itself (emulators answer no parameters).
pub async fn preflight<V: ValidateTemplate>(
    validator: &V,
    spec: &RolloutSpec,
) -> Result<ValidatedTemplate, PreflightError> {
    spec.validate()?;
    match validator.validate_template(&spec.template).await {
        Ok(mut validated) => {
            if let TemplateSource::Body(body) = &spec.template {
                validated
                    .no_echo
                    .extend(crate::secrets::no_echo_declared(body.as_str()));
            }
            Ok(validated)
        }
        Err(error @ PortError::TemplateInvalid(_)) => Err(PreflightError::Template(error)),
        Err(error) => Err(PreflightError::Unreachable(error)),
    }
}
