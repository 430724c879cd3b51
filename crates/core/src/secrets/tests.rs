use std::sync::Mutex;

use super::*;
use crate::ports::PortResult;
use crate::spec::{TemplateBody, TemplateSource};

const CANARY: &str = "canary-7f3a9c";

/// Secrets by (kind, name), and every read asked of them.
#[derive(Default)]
struct Vault {
    values: BTreeMap<String, String>,
    denied: BTreeSet<String>,
    reads: Mutex<Vec<String>>,
}

impl Vault {
    fn with(entries: &[(&str, &str)]) -> Self {
        Self {
            values: entries
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..Self::default()
        }
    }
}

impl Secrets for Vault {
    async fn read(&self, reference: &SecretRef) -> PortResult<Option<SecretValue>> {
        let name = match &reference.source {
            SecretSource::SsmSecure { name, .. } => name.clone(),
            SecretSource::SecretsManager { secret_id, .. } => secret_id.clone(),
        };
        self.reads.lock().unwrap().push(name.clone());
        if self.denied.contains(&name) {
            return Err(PortError::AccessDenied(format!("not authorized to read {name}")));
        }
        Ok(self.values.get(&name).cloned().map(SecretValue::new))
    }
}

fn spec(parameters: &[(&str, &str)]) -> RolloutSpec {
    let mut spec = RolloutSpec::new(
        "s".parse().unwrap(),
        TemplateSource::Body(
            TemplateBody::parse(r#"{"Resources":{"T":{"Type":"AWS::SNS::Topic"}}}"#.into()).unwrap(),
        ),
    );
    spec.parameters = parameters
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    spec
}

#[tokio::test]
async fn references_are_replaced_by_their_values_each_read_once() {
    let vault = Vault::with(&[
        ("/stackfleet/db", CANARY),
        ("stackfleet/api", r#"{"key": "k-123", "port": 8080}"#),
    ]);
    let mut given = spec(&[
        ("Env", "prod"),
        ("Db", "{{resolve:ssm-secure:/stackfleet/db}}"),
        (
            "ApiKey",
            "{{resolve:secretsmanager:stackfleet/api:SecretString:key}}",
        ),
        (
            "ApiPort",
            "{{resolve:secretsmanager:stackfleet/api:SecretString:port}}",
        ),
    ]);
    given.parameter_overrides.insert(
        "111111111111".into(),
        [(
            "Db".to_owned(),
            "{{resolve:ssm-secure:/stackfleet/db}}".to_owned(),
        )]
        .into(),
    );
    given.validate().unwrap();
    let resolved = resolve(&vault, &given).await.unwrap();
    assert_eq!(resolved.parameters["Env"], "prod");
    assert_eq!(resolved.parameters["Db"], CANARY);
    assert_eq!(resolved.parameters["ApiKey"], "k-123");
    assert_eq!(
        resolved.parameters["ApiPort"], "8080",
        "a number is its JSON text"
    );
    assert_eq!(resolved.parameter_overrides["111111111111"]["Db"], CANARY);
    let mut reads = vault.reads.lock().unwrap().clone();
    reads.sort();
    assert_eq!(
        reads,
        ["/stackfleet/db", "stackfleet/api", "stackfleet/api"],
        "one read per distinct reference"
    );
    assert!(!format!("{resolved:?}").contains(CANARY), "{resolved:?}");
    assert_eq!(
        given.parameters["Db"], "{{resolve:ssm-secure:/stackfleet/db}}",
        "the spec is left as written"
    );
}

#[tokio::test]
async fn a_spec_without_references_costs_no_read() {
    let vault = Vault::default();
    let given = spec(&[("Env", "prod")]);
    assert!(!has_references(&given));
    assert_eq!(resolve(&vault, &given).await.unwrap(), given);
    assert!(vault.reads.lock().unwrap().is_empty());
    assert!(resolve(&crate::ports::NoSecrets, &given).await.is_ok());
}

#[tokio::test]
async fn what_cannot_be_resolved_is_an_error_naming_the_field_and_the_reference() {
    let missing = spec(&[("Db", "{{resolve:ssm-secure:/stackfleet/missing}}")]);
    let error = resolve(&Vault::default(), &missing).await.unwrap_err();
    assert_eq!(error.name(), ErrorName::InvalidInput);
    let text = error.to_string();
    assert!(text.contains("parameters.Db"), "{text}");
    assert!(
        text.contains("{{resolve:ssm-secure:/stackfleet/missing}}"),
        "{text}"
    );
    assert!(text.contains("names no SSM parameter"), "{text}");

    let mut vault = Vault::with(&[("stackfleet/db", CANARY)]);
    vault.denied.insert("stackfleet/db".into());
    let denied = spec(&[("Db", "{{resolve:secretsmanager:stackfleet/db}}")]);
    let error = resolve(&vault, &denied).await.unwrap_err();
    assert_eq!(error.name(), ErrorName::AccessDenied);
    let text = error.to_string();
    assert!(
        text.contains("{{resolve:secretsmanager:stackfleet/db}}")
            && text.contains("secretsmanager:GetSecretValue"),
        "{text}"
    );

    let vault = Vault::with(&[("stackfleet/db", CANARY), ("stackfleet/json", r#"{"user": "u"}"#)]);
    for (reference, why) in [
        (
            "{{resolve:secretsmanager:stackfleet/db:SecretString:password}}",
            "is not a JSON object",
        ),
        (
            "{{resolve:secretsmanager:stackfleet/json:SecretString:password}}",
            "does not have",
        ),
    ] {
        let error = resolve(&vault, &spec(&[("Db", reference)])).await.unwrap_err();
        let text = error.to_string();
        assert!(text.contains(why) && text.contains("\"password\""), "{text}");
        assert!(!text.contains(CANARY), "{text}");
    }
}

#[test]
fn a_malformed_reference_fails_validation_with_its_field() {
    let mut bad = spec(&[]);
    bad.parameter_overrides.insert(
        "111111111111".into(),
        [("Db".to_owned(), "{{resolve:ssm:/stackfleet/db}}".to_owned())].into(),
    );
    let error = bad.validate().unwrap_err().to_string();
    assert!(error.contains("parameterOverrides.111111111111.Db"), "{error}");
    assert!(error.contains("plain String parameter"), "{error}");
}

#[test]
fn no_echo_parameters_are_read_from_json_and_yaml_templates() {
    let json = r#"{"Parameters": {"Db": {"Type": "String", "NoEcho": true},
        "Key": {"Type": "String", "NoEcho": "TRUE"}, "Env": {"Type": "String", "NoEcho": false},
        "Name": {"Type": "String"}}, "Resources": {}}"#;
    assert_eq!(no_echo_declared(json), ["Db".to_owned(), "Key".to_owned()].into());
    let yaml = "Parameters:\n  Db:\n    Type: String\n    NoEcho: true\n  Key:\n    NoEcho: 'true'\n  \
                Env:\n    Type: String\nResources:\n  Role:\n    Type: AWS::IAM::Role\n    Properties:\n      \
                RoleName: !Sub '${Env}-x'\n";
    assert_eq!(no_echo_declared(yaml), ["Db".to_owned(), "Key".to_owned()].into());
    assert!(no_echo_declared("Resources: [unclosed").is_empty());
    assert!(no_echo_declared("Resources: {}\n").is_empty());
}

#[test]
fn a_no_echo_parameter_in_plaintext_is_refused_by_name_never_by_value() {
    let no_echo: BTreeSet<String> = ["Db".to_owned()].into();
    let plaintext = spec(&[("Db", CANARY), ("Env", "prod")]);
    let error = refuse_plaintext_no_echo(&plaintext, &no_echo).unwrap_err();
    assert_eq!(error.name(), ErrorName::InvalidInput);
    let text = error.to_string();
    assert!(
        text.contains("parameter Db is NoEcho") && text.contains("(parameters.Db)"),
        "{text}"
    );
    assert!(!text.contains(CANARY), "{text}");

    let mut overridden = spec(&[("Db", "{{resolve:ssm-secure:/stackfleet/db}}")]);
    assert!(
        refuse_plaintext_no_echo(&overridden, &no_echo).is_ok(),
        "a reference is fine"
    );
    overridden.parameter_overrides.insert(
        "111111111111:eu-west-1".into(),
        [("Db".to_owned(), CANARY.to_owned())].into(),
    );
    let text = refuse_plaintext_no_echo(&overridden, &no_echo)
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("parameterOverrides.111111111111:eu-west-1.Db"),
        "{text}"
    );
    assert!(
        refuse_plaintext_no_echo(&spec(&[("Db", "")]), &no_echo).is_ok(),
        "empty is no secret"
    );
}

#[test]
fn no_echo_values_are_shown_masked() {
    let no_echo: BTreeSet<String> = ["Db".to_owned()].into();
    assert_eq!(shown("Db", CANARY, &no_echo), MASK);
    assert_eq!(shown("Env", "prod", &no_echo), "prod");
    let request = crate::stack::StackRequest {
        stack_name: "s".into(),
        template: spec(&[]).template,
        parameters: vec![("Db".into(), CANARY.into())],
        capabilities: Vec::new(),
        tags: Vec::new(),
        token: "t".into(),
        termination_protection: false,
    };
    let debug = format!("{request:?}");
    assert!(
        debug.contains("\"Db\": \"****\"") && !debug.contains(CANARY),
        "{debug}"
    );
}
