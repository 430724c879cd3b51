//! The secrets adapter (SSM, Secrets Manager) and ValidateTemplate's NoEcho answer, at the SDK
//! seam: what each reference asks AWS, and each AWS answer in core's terms.

use aws_sdk_cloudformation::operation::validate_template::ValidateTemplateOutput;
use aws_sdk_cloudformation::types::TemplateParameter;
use aws_sdk_secretsmanager::operation::get_secret_value::{GetSecretValueError, GetSecretValueOutput};
use aws_sdk_secretsmanager::types::error::ResourceNotFoundException;
use aws_sdk_ssm::operation::get_parameter::{GetParameterError, GetParameterOutput};
use aws_sdk_ssm::types::error::{ParameterNotFound, ParameterVersionNotFound};
use aws_sdk_ssm::types::Parameter;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use stackfleet_aws::{AwsSecrets, CfnStacks};
use stackfleet_core::ports::{PortError, Secrets, ValidateTemplate};
use stackfleet_core::secrets::{self, SecretRef};
use stackfleet_core::spec::{TemplateSource, TemplateUrl};
use stackfleet_core::{ErrorName, RolloutSpec};

const CANARY: &str = "canary-0c5e11";

fn secrets(ssm: &[&Rule], secrets_manager: &[&Rule]) -> AwsSecrets {
    AwsSecrets::new(
        mock_client!(aws_sdk_ssm, RuleMode::MatchAny, ssm),
        mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, secrets_manager),
    )
}

fn reference(text: &str) -> SecretRef {
    SecretRef::parse(text).unwrap().unwrap()
}

async fn read(adapter: &AwsSecrets, text: &str) -> Result<Option<String>, PortError> {
    adapter
        .read(&reference(text))
        .await
        .map(|value| value.map(|v| v.expose().to_owned()))
}

#[tokio::test]
async fn an_ssm_secure_string_is_read_decrypted_by_name_and_by_version() {
    let latest = mock!(aws_sdk_ssm::Client::get_parameter)
        .match_requests(|r| r.name() == Some("/stackfleet/db") && r.with_decryption() == Some(true))
        .then_output(|| {
            GetParameterOutput::builder()
                .parameter(Parameter::builder().name("/stackfleet/db").value(CANARY).build())
                .build()
        });
    let second = mock!(aws_sdk_ssm::Client::get_parameter)
        .match_requests(|r| r.name() == Some("/stackfleet/db:2") && r.with_decryption() == Some(true))
        .then_output(|| {
            GetParameterOutput::builder()
                .parameter(Parameter::builder().value("version two").build())
                .build()
        });
    let adapter = secrets(&[&latest, &second], &[]);
    assert_eq!(
        read(&adapter, "{{resolve:ssm-secure:/stackfleet/db}}").await,
        Ok(Some(CANARY.into()))
    );
    assert_eq!(
        read(&adapter, "{{resolve:ssm-secure:/stackfleet/db:2}}").await,
        Ok(Some("version two".into()))
    );
    assert_eq!((latest.num_calls(), second.num_calls()), (1, 1));
}

#[tokio::test]
async fn a_missing_parameter_or_version_is_none_and_access_denied_is_named() {
    let missing = mock!(aws_sdk_ssm::Client::get_parameter)
        .match_requests(|r| r.name() == Some("/stackfleet/missing"))
        .then_error(|| GetParameterError::ParameterNotFound(ParameterNotFound::builder().build()));
    let no_version = mock!(aws_sdk_ssm::Client::get_parameter)
        .match_requests(|r| r.name() == Some("/stackfleet/db:9"))
        .then_error(|| {
            GetParameterError::ParameterVersionNotFound(ParameterVersionNotFound::builder().build())
        });
    let denied = mock!(aws_sdk_ssm::Client::get_parameter)
        .match_requests(|r| r.name() == Some("/other/db"))
        .then_error(|| {
            GetParameterError::generic(
                ErrorMetadata::builder()
                    .code("AccessDeniedException")
                    .message("User: arn:aws:sts::1:assumed-role/worker is not authorized to perform: ssm:GetParameter")
                    .build(),
            )
        });
    let adapter = secrets(&[&missing, &no_version, &denied], &[]);
    assert_eq!(
        read(&adapter, "{{resolve:ssm-secure:/stackfleet/missing}}").await,
        Ok(None)
    );
    assert_eq!(
        read(&adapter, "{{resolve:ssm-secure:/stackfleet/db:9}}").await,
        Ok(None)
    );
    let error = read(&adapter, "{{resolve:ssm-secure:/other/db}}")
        .await
        .unwrap_err();
    assert!(matches!(error, PortError::AccessDenied(_)), "{error}");

    // Through core: the error names the field and the reference, and says what to grant.
    let mut spec = RolloutSpec::new(
        "s".parse().unwrap(),
        TemplateSource::Url(TemplateUrl::parse("https://b.s3.amazonaws.com/t.yaml".into()).unwrap()),
    );
    spec.parameters
        .insert("Db".into(), "{{resolve:ssm-secure:/other/db}}".into());
    let error = secrets::resolve(&adapter, &spec).await.unwrap_err();
    assert_eq!(error.name(), ErrorName::AccessDenied);
    let text = error.to_string();
    assert!(
        text.contains("parameters.Db: {{resolve:ssm-secure:/other/db}} could not be read"),
        "{text}"
    );
    assert!(text.contains("/stackfleet/*"), "{text}");
}

#[tokio::test]
async fn a_secret_is_read_by_id_stage_or_version_and_its_json_key_picked_by_core() {
    let arn = "arn:aws:secretsmanager:us-east-1:111111111111:secret:stackfleet/api-AbCdEf";
    let current = mock!(aws_sdk_secretsmanager::Client::get_secret_value)
        .match_requests(move |r| {
            r.secret_id() == Some(arn) && r.version_stage().is_none() && r.version_id().is_none()
        })
        .then_output(|| {
            GetSecretValueOutput::builder()
                .secret_string(format!(r#"{{"token": "{CANARY}"}}"#))
                .build()
        });
    let previous = mock!(aws_sdk_secretsmanager::Client::get_secret_value)
        .match_requests(|r| {
            r.secret_id() == Some("stackfleet/api") && r.version_stage() == Some("AWSPREVIOUS")
        })
        .then_output(|| GetSecretValueOutput::builder().secret_string("old").build());
    let missing = mock!(aws_sdk_secretsmanager::Client::get_secret_value)
        .match_requests(|r| r.secret_id() == Some("stackfleet/gone"))
        .then_error(|| {
            GetSecretValueError::ResourceNotFoundException(ResourceNotFoundException::builder().build())
        });
    let binary = mock!(aws_sdk_secretsmanager::Client::get_secret_value)
        .match_requests(|r| r.secret_id() == Some("stackfleet/cert"))
        .then_output(|| {
            GetSecretValueOutput::builder()
                .secret_binary(aws_smithy_types::Blob::new(vec![1, 2]))
                .build()
        });
    let adapter = secrets(&[], &[&current, &previous, &missing, &binary]);

    let mut spec = RolloutSpec::new(
        "s".parse().unwrap(),
        TemplateSource::Url(TemplateUrl::parse("https://b.s3.amazonaws.com/t.yaml".into()).unwrap()),
    );
    spec.parameters.insert(
        "Token".into(),
        format!("{{{{resolve:secretsmanager:{arn}:SecretString:token}}}}"),
    );
    spec.parameters.insert(
        "Old".into(),
        "{{resolve:secretsmanager:stackfleet/api:SecretString::AWSPREVIOUS}}".into(),
    );
    let resolved = secrets::resolve(&adapter, &spec).await.unwrap();
    assert_eq!(resolved.parameters["Token"], CANARY);
    assert_eq!(resolved.parameters["Old"], "old");

    assert_eq!(
        read(&adapter, "{{resolve:secretsmanager:stackfleet/gone}}").await,
        Ok(None)
    );
    let error = read(&adapter, "{{resolve:secretsmanager:stackfleet/cert}}")
        .await
        .unwrap_err();
    assert!(error.to_string().contains("SecretBinary"), "{error}");
}

#[tokio::test]
async fn validate_template_answers_the_no_echo_parameters() {
    let answer = mock!(aws_sdk_cloudformation::Client::validate_template).then_output(|| {
        ValidateTemplateOutput::builder()
            .parameters(
                TemplateParameter::builder()
                    .parameter_key("Db")
                    .no_echo(true)
                    .build(),
            )
            .parameters(
                TemplateParameter::builder()
                    .parameter_key("Env")
                    .no_echo(false)
                    .build(),
            )
            .parameters(TemplateParameter::builder().parameter_key("Name").build())
            .build()
    });
    let validator = CfnStacks::new(mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        [&answer]
    ));
    let url = TemplateUrl::parse("https://b.s3.amazonaws.com/t.yaml".into()).unwrap();
    let validated = validator
        .validate_template(&TemplateSource::Url(url))
        .await
        .unwrap();
    assert_eq!(validated.no_echo, ["Db".to_owned()].into());
}
